// Photos: a grid of thumbnails (/v1/media, /v1/media/{sha}/thumbnail fetched with the key and
// shown through blob: URLs), and one photo large in a dialog (Escape closes it).
import { getJson, imageUrl } from '../api.js';
import { errorText, formatDateTime, h, plural, status } from '../dom.js';
import type { Cleanup } from '../main.js';

interface Media {
  sha256: string;
  mime_type: string;
  width: number | null;
  height: number | null;
  taken_at: string | null;
  title: string | null;
  description: string | null;
  people: string[];
  albums: string[];
  camera_make: string | null;
  camera_model: string | null;
  original_name: string;
  lat: number | null;
  lon: number | null;
}

const THUMBNAILABLE = /^image\/(jpeg|png|webp|gif|tiff|avif)$/;

export async function thumbnail(sha256: string, size: 256 | 1024, alt: string, signal?: AbortSignal): Promise<{ img: HTMLImageElement; url: string }> {
  const url = await imageUrl(`/v1/media/${sha256}/thumbnail?size=${size}`, signal);
  return { img: h('img', { src: url, alt, loading: 'lazy', decoding: 'async' }), url };
}

export async function photosPage(main: HTMLElement, args: string[], signal: AbortSignal): Promise<Cleanup> {
  const urls: string[] = [];
  const grid = h('ul.grid', { 'aria-label': 'Photos and videos' });
  const more = h('button', { type: 'button', hidden: true }, 'More');
  const note = status('Loading photos…');
  const dialog = h('dialog.viewer', { 'aria-label': 'Photo' });
  main.append(h('div.photos-page', {}, h('div.toolbar', {}, h('h1', {}, 'Photos')), note, grid, more, dialog));

  const open = async (sha256: string) => {
    dialog.replaceChildren(h('p', {}, 'Loading…'));
    if (!dialog.open) dialog.showModal();
    try {
      const { item } = await getJson<{ item: Media }>(`/v1/media/${sha256}`, {}, signal);
      const close = h('button.close', { type: 'button', 'aria-label': 'Close' }, 'Close');
      close.addEventListener('click', () => dialog.close());
      const figure = h('figure', {});
      dialog.replaceChildren(
        h('div.viewer-bar', {}, h('h2', {}, item.title ?? item.original_name), close),
        figure,
        flatDetails(item),
      );
      close.focus();
      if (THUMBNAILABLE.test(item.mime_type)) {
        const { img, url } = await thumbnail(sha256, 1024, item.description ?? item.title ?? 'photo', signal);
        urls.push(url);
        figure.append(img);
      } else figure.append(h('p', {}, `No preview for ${item.mime_type}.`));
    } catch (error) {
      dialog.replaceChildren(h('p.error', {}, errorText(error)));
    }
  };
  dialog.addEventListener('close', () => {
    if (location.hash.startsWith('#/photos/')) history.replaceState(null, '', '#/photos');
  });

  let cursor: string | undefined;
  const load = async () => {
    const page = await getJson<{ media: Media[]; next_cursor: string | null }>('/v1/media', { limit: 60, cursor }, signal);
    for (const item of page.media) {
      const label = `${item.title ?? item.original_name}${item.taken_at ? `, ${formatDateTime(item.taken_at)}` : ''}`;
      const button = h('button.tile', { type: 'button', 'aria-label': label, 'data-sha256': item.sha256 });
      button.addEventListener('click', () => {
        history.replaceState(null, '', `#/photos/${item.sha256}`);
        void open(item.sha256);
      });
      grid.append(h('li', {}, button));
      if (THUMBNAILABLE.test(item.mime_type)) {
        thumbnail(item.sha256, 256, '', signal).then(
          ({ img, url }) => {
            urls.push(url);
            button.append(img);
          },
          () => button.append(h('span', {}, item.original_name)),
        );
      } else button.append(h('span', {}, item.mime_type.startsWith('video/') ? `▶ ${item.original_name}` : item.original_name));
    }
    cursor = page.next_cursor ?? undefined;
    more.hidden = !cursor;
    note.textContent = grid.children.length ? `${plural(grid.children.length, 'photo or video', 'photos and videos')}${cursor ? ' so far' : ''}.` : 'No photos yet.';
  };
  more.addEventListener('click', () => void load());
  await load();
  if (args[0]) void open(args[0]);
  return () => {
    if (dialog.open) dialog.close();
    for (const url of urls) URL.revokeObjectURL(url);
  };
}

function flatDetails(item: Media): HTMLElement {
  const rows: Array<[string, string]> = [];
  if (item.taken_at) rows.push(['Taken', formatDateTime(item.taken_at)]);
  if (item.description) rows.push(['Description', item.description]);
  if (item.people.length) rows.push(['People', item.people.join(', ')]);
  if (item.albums.length) rows.push(['Albums', item.albums.join(', ')]);
  if (item.camera_model) rows.push(['Camera', [item.camera_make, item.camera_model].filter(Boolean).join(' ')]);
  if (item.width) rows.push(['Size', `${item.width} × ${item.height} px`]);
  if (item.lat !== null && item.lon !== null) rows.push(['Where', `${item.lat.toFixed(5)}, ${item.lon.toFixed(5)}`]);
  rows.push(['File', item.original_name]);
  const list = h('dl.details', {});
  for (const [term, value] of rows) list.append(h('dt', {}, term), h('dd', {}, value));
  return list;
}
