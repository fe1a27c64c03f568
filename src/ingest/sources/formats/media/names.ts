// How Google Photos Takeout names things, and how a media file and its JSON sidecar find each
// other. Google writes, for a photo `IMG_1234.jpg` in a folder:
//   IMG_1234.jpg.json                           before 2024
//   IMG_1234.jpg.supplemental-metadata.json     2024 on
// and cuts every sidecar name to 51 characters with `.json` (46 before it), so a long name loses
// its tail: `IMG_20230101_123456.jpg.supplemental-metad.json`, `<first 46 of the photo's name>.json`.
// A second file of the same name in a folder is `IMG_1234(1).jpg`, its sidecar `IMG_1234.jpg(1).json`
// (`.supplemental-metadata(1).json`); on a cut name the `(n)` follows the cut: `…qrs(1).jpg` ↔
// `…qr(1).json`. An edited copy `IMG_1234-edited.jpg` (localized: -bearbeitet, -modifié...) has no
// sidecar of its own and shares the original's. Some sidecars leave out the media's extension
// (`1697872351123.supplemental-metadata.json` for `1697872351123.jpg`): the join tries that last.
// In which unit Google counts the 46 for names with characters past U+FFFF (emoji) is not
// published, so both UTF-16 units and code points are accepted: `truncated` is measured in
// UTF-16 units (never fewer than code points), and the join key (reconcile.ts) counts such a
// character as two, so a cut sidecar keeps its whole key in either unit.
//
// So both sides are reduced to a pair name and a duplicate number: the media file
// `IMG_1234(1).jpg` → (`IMG_1234.jpg`, 1), the sidecar `IMG_1234.jpg(1).json` → (`IMG_1234.jpg`, 1,
// not truncated). A truncated sidecar's pair name is a prefix of its media's: the join (in SQL,
// reconcile.ts) matches equal names, or prefixes when the sidecar is marked truncated, on the
// first PAIR_KEY_CHARS characters both keep.

/** Google's limit on a sidecar's name before `.json`. */
export const SIDECAR_STEM_LIMIT = 46;
/** Characters of a pair name both sides always keep (a truncated sidecar keeps at least 46 minus the cut suffix). */
export const PAIR_KEY_CHARS = 40;

const SUPPLEMENTAL = '.supplemental-metadata';
/** Suffixes Google adds to an edited copy, by account language. */
const EDITED_SUFFIXES = ['-edited', '-bearbeitet', '-modifié', '-modificato', '-editado', '-bewerkt', '-redigert', '-redigeret', '-redigerad', '-muokattu', '-edytowane', '-upraveno', '-編集済み', '-编辑', '-編輯', '-편집됨', '-изменено'];

export interface SplitPath {
  folder: string;
  name: string;
}

export function splitPath(path: string): SplitPath {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? { folder: '', name: path } : { folder: path.slice(0, slash), name: path.slice(slash + 1) };
}

export interface MediaPairName {
  pairName: string;
  pairDup: number;
}

/** `IMG_1234(1).jpg` → (`IMG_1234.jpg`, 1); `IMG_1234-edited.jpg` → (`IMG_1234.jpg`, 0). */
export function mediaPairName(fileName: string): MediaPairName {
  const dot = fileName.lastIndexOf('.');
  let stem = dot > 0 ? fileName.slice(0, dot) : fileName;
  const extension = dot > 0 ? fileName.slice(dot) : '';
  let pairDup = 0;
  const dup = /\((\d{1,4})\)$/.exec(stem);
  if (dup) {
    pairDup = Number(dup[1]);
    stem = stem.slice(0, dup.index);
  }
  const lower = stem.toLowerCase();
  const edited = EDITED_SUFFIXES.find((suffix) => lower.endsWith(suffix) && stem.length > suffix.length);
  if (edited) stem = stem.slice(0, stem.length - edited.length);
  return { pairName: stem + extension, pairDup };
}

export interface SidecarPairName extends MediaPairName {
  truncated: boolean;
}

/**
 * The media name a sidecar's file name describes, or null when the name is not a sidecar's
 * (no `.json`). Takes off `.json`, then `(n)`, then `.supplemental-metadata` or, when the name
 * reached the limit, whatever start of it survived the cut (`.supplemental-metad`, `.s`, `.`).
 */
export function sidecarPairName(fileName: string): SidecarPairName | null {
  if (!/\.json$/i.test(fileName)) return null;
  let stem = fileName.slice(0, -'.json'.length);
  let truncated = stem.length >= SIDECAR_STEM_LIMIT;
  let pairDup = 0;
  const dup = /\((\d{1,4})\)$/.exec(stem);
  if (dup) {
    pairDup = Number(dup[1]);
    stem = stem.slice(0, dup.index);
  }
  if (stem.toLowerCase().endsWith(SUPPLEMENTAL)) {
    // The whole suffix survived, so nothing of the media's name before it was cut.
    stem = stem.slice(0, -SUPPLEMENTAL.length);
    truncated = false;
  } else if (truncated) {
    // Part of the suffix survived: the name before it is whole, but an old-style name cut after
    // a dot (`…_name.s`) looks the same, so `truncated` stays and the join also accepts a prefix.
    // The longest tail of the stem that is a start of `.supplemental-metadata`.
    for (let length = Math.min(SUPPLEMENTAL.length - 1, stem.length - 1); length >= 1; length--) {
      if (stem.slice(-length).toLowerCase() === SUPPLEMENTAL.slice(0, length)) {
        stem = stem.slice(0, -length);
        break;
      }
    }
  }
  if (stem === '') return null;
  return { pairName: stem, pairDup, truncated };
}

/** Album metadata file names, by Takeout language (compared without accents, lower-case). */
const ALBUM_METADATA_NAMES = new Set([
  'metadata.json', 'metadonnees.json', 'metadaten.json', 'metadatos.json', 'metadati.json', 'metadados.json',
  'metagegevens.json', 'metadane.json', 'metadata(1).json', 'метаданные.json', 'メタデータ.json', '元数据.json', '中繼資料.json', '메타데이터.json',
]);

export function isAlbumMetadataName(fileName: string): boolean {
  return ALBUM_METADATA_NAMES.has(fileName.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase());
}

/** `Photos from 2023` in the languages Takeout writes it (accents off, lower-case, year taken out). */
const YEAR_FOLDER_PHRASES = [
  'photos from', 'fotos von', 'photos de', 'fotos de', 'foto del', 'foto dal', "foto's uit", 'fotos uit', 'zdjecia z',
  'fotky z', 'fotos fra', 'bilder fra', 'foton fran', 'billeder fra', 'valokuvat vuodelta', 'фото за', 'фотографии за',
];

/**
 * `year` for Google's per-year folders (`Photos from 2023`, localized) and old per-day folders
 * (`2019-05-12`, `2019-05-12 #2`); `root` for the top of the export or of Google Photos; otherwise
 * `album` (an album metadata file in the folder makes it an album whatever its name, in SQL).
 */
export function folderKind(folder: string): 'album' | 'year' | 'root' {
  const name = splitPath(folder).name;
  const folded = name.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().trim();
  if (folded === '' || folded === 'takeout' || /^google (photos|fotos|foto)$/.test(folded)) return 'root';
  if (/^\d{4}(-\d{2}(-\d{2})?)?( #\d+)?$/.test(folded)) return 'year';
  const year = /^(.*?)\s*(?:19|20)\d{2}(?:\s*(?:г\.|年))?$/.exec(folded);
  if ((year && YEAR_FOLDER_PHRASES.includes(year[1]!)) || /^(19|20)\d{2}\s*年の写真$/.test(folded)) return 'year';
  return 'album';
}
