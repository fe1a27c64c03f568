// The location sources as the registry (../../registry.ts) knows them: their ids, how their files
// are recognised and where their parsers are. Detection only: nothing here imports a parser.
import { baseName, describeJsonHead } from '../../../parse/json-head.js';
import { parserAt, type Confidence, type Probe, type SourceEntry } from '../../../source.js';
import { foldName } from '../takeout-names.js';

/** Records.json's name across Takeout languages and eras (compared folded: lower case, no accents). */
const RECORDS_FILE_NAMES = new Set(
  [
    'Records.json',
    'Location History.json',
    'LocationHistory.json',
    'Historique des positions.json',
    'Standortverlauf.json',
    'Historial de ubicaciones.json',
    'Cronologia delle posizioni.json',
    'Locatiegeschiedenis.json',
    'Historia lokalizacji.json',
    'Histórico de localização.json',
    'Platshistorik.json',
  ].map(foldName),
);

export const LOCATION_RECORDS: SourceEntry = {
  id: 'google.location.records',
  description: 'Google Location History Records.json (Takeout before the 2024 move to on-device Timeline)',
  detect(probe: Probe): Confidence | null {
    const shape = describeJsonHead(probe.head);
    if (shape.root === 'object' && shape.arrays.has('locations')) {
      const elementKeys = [...shape.keys].filter((key) => key.startsWith('locations[].'));
      const looksLikeFixes = elementKeys.some((key) => /^locations\[\]\.(latitudeE7|timestampMs|timestamp)$/.test(key));
      // An empty `locations: []` has no element keys to look at; the key alone is Google's shape.
      if (looksLikeFixes || elementKeys.length === 0) return 'content';
    }
    return RECORDS_FILE_NAMES.has(foldName(baseName(probe.path))) ? 'path' : null;
  },
  standalone: true,
  parser: parserAt(import.meta.url, './records.js', 'locationRecordsSource'),
};

/** `2020_JANUARY.json`; the month is English in every Takeout language seen. */
const MONTH_FILE = /^\d{4}_[A-Z]+\.json$/i;

export const LOCATION_SEMANTIC: SourceEntry = {
  id: 'google.location.semantic',
  description: 'Google Semantic Location History monthly files (timelineObjects: place visits and activity segments)',
  detect(probe: Probe): Confidence | null {
    const shape = describeJsonHead(probe.head);
    if (shape.root === 'object' && shape.arrays.has('timelineObjects')) return 'content';
    if (!MONTH_FILE.test(baseName(probe.path))) return null;
    // The month file's name claims a file only when its head does not show something else: a
    // GeoJSON or any other JSON named `2023_January.json` (an array, or an object with its own
    // keys and no `timelineObjects`) is left to the sources after, and the JSON document keeps it.
    // A head that shows no key yet, or `timelineObjects` that is not an array (for the parser to
    // report), is this source's.
    if (shape.root === 'array' || shape.root === 'scalar') return null;
    if (shape.root === 'object' && shape.keys.size > 0 && !shape.keys.has('timelineObjects')) return null;
    return 'path';
  },
  standalone: true,
  parser: parserAt(import.meta.url, './semantic.js', 'semanticLocationHistorySource'),
};

const ONDEVICE_FILE_NAMES = new Set(['Timeline.json', 'location-history.json', 'Zeitachse.json', 'Chronologie.json', 'Cronología.json', 'Cronologia.json', 'Tijdlijn.json'].map(foldName));
/** The kinds of segment of the iOS array (its elements are segments with one of these members). */
const SEGMENT_KINDS = ['visit', 'activity', 'timelinePath', 'timelineMemory'] as const;

export const LOCATION_ONDEVICE: SourceEntry = {
  id: 'google.location.ondevice',
  description: 'Google Maps Timeline exported from the device (Android Timeline.json, iOS location-history.json)',
  detect(probe: Probe): Confidence | null {
    const shape = describeJsonHead(probe.head);
    if (shape.root === 'object' && (shape.arrays.has('semanticSegments') || shape.arrays.has('rawSignals') || shape.keys.has('userLocationProfile'))) {
      return 'content';
    }
    if (shape.root === 'array' && shape.keys.has('[].startTime') && SEGMENT_KINDS.some((kind) => shape.keys.has(`[].${kind}`))) {
      return 'content';
    }
    return ONDEVICE_FILE_NAMES.has(foldName(baseName(probe.path))) ? 'path' : null;
  },
  standalone: true,
  parser: parserAt(import.meta.url, './ondevice.js', 'timelineOnDeviceSource'),
};

const EDITS_FILE_NAMES = new Set(['Timeline Edits.json', 'TimelineEdits.json'].map(foldName));

export const LOCATION_EDITS: SourceEntry = {
  id: 'google.location.edits',
  description: 'Google Location History Timeline Edits.json (device raw signals and place aggregates)',
  detect(probe: Probe): Confidence | null {
    const shape = describeJsonHead(probe.head);
    if (shape.root === 'object' && shape.arrays.has('timelineEdits')) return 'content';
    return EDITS_FILE_NAMES.has(foldName(baseName(probe.path))) ? 'path' : null;
  },
  standalone: true,
  parser: parserAt(import.meta.url, './edits.js', 'timelineEditsSource'),
};

/** The Location History folder's names across Takeout languages and eras (compared folded). */
const FOLDER_NAMES = new Set(
  [
    'Location History',
    'Location History (Timeline)',
    'Standortverlauf',
    'Standortverlauf (Zeitachse)',
    'Historique des positions',
    'Historial de ubicaciones',
    'Cronologia delle posizioni',
    'Locatiegeschiedenis',
    'Historia lokalizacji',
    'Histórico de localização',
    'Platshistorik',
  ].map(foldName),
);

export const LOCATION_SETTINGS: SourceEntry = {
  id: 'google.location.settings',
  description: 'Google Location History Settings.json (the devices that reported, named; the account settings)',
  detect(probe: Probe): Confidence | null {
    const shape = describeJsonHead(probe.head);
    if (shape.root === 'object') {
      if (shape.arrays.has('deviceSettings') && (shape.keys.has('deviceSettings[].deviceTag') || shape.keys.has('historyEnabled') || shape.keys.has('retentionWindowDays'))) {
        return 'content';
      }
      if (shape.keys.has('historyEnabled') && shape.keys.has('retentionWindowDays')) return 'content';
    }
    const parts = probe.path.split('/');
    const folder = parts[parts.length - 2];
    return baseName(probe.path) === 'Settings.json' && folder !== undefined && FOLDER_NAMES.has(foldName(folder)) ? 'path' : null;
  },
  standalone: true,
  parser: parserAt(import.meta.url, './settings.js', 'locationSettingsSource'),
};

/** Takeout's KML names across languages and eras (compared folded), and the Timeline day export. */
const KML_FILE_NAMES = new Set(
  ['Location History.kml', 'LocationHistory.kml', 'Historique des positions.kml', 'Standortverlauf.kml', 'Historial de ubicaciones.kml', 'Cronologia delle posizioni.kml', 'Locatiegeschiedenis.kml'].map(
    foldName,
  ),
);
const DAY_EXPORT_NAME = /^history-\d{4}-\d{2}-\d{2}\.kml$/i;
/** Elements that date positions; one of them in the head makes a KML file location history. */
const TIME_ELEMENT_IN_HEAD = /<(?:[A-Za-z_][\w.-]*:)?(?:Track|TimeStamp|TimeSpan|when)[\s>/]/;

export const LOCATION_KML: SourceEntry = {
  id: 'google.location.kml',
  description: 'Google Location History KML: Takeout gx:Track files and Maps Timeline day exports (history-YYYY-MM-DD.kml)',
  detect(probe: Probe): Confidence | null {
    const head = probe.head.toString('latin1');
    const root = rootElementName(head);
    if (root !== null && localName(root) === 'kml' && TIME_ELEMENT_IN_HEAD.test(head)) return 'content';
    const name = baseName(probe.path);
    return KML_FILE_NAMES.has(foldName(name)) || DAY_EXPORT_NAME.test(name) ? 'path' : null;
  },
  standalone: true,
  parser: parserAt(import.meta.url, './kml.js', 'locationKmlSource'),
};

/** The name of the first element, past a BOM, the XML declaration, comments and a DOCTYPE; null when the head shows none. */
function rootElementName(head: string): string | null {
  let at = head.charCodeAt(0) === 0xef && head.startsWith('\xef\xbb\xbf') ? 3 : 0;
  for (;;) {
    while (at < head.length && /\s/.test(head[at]!)) at++;
    if (head.startsWith('<?', at)) at = endOf(head, '?>', at);
    else if (head.startsWith('<!--', at)) at = endOf(head, '-->', at);
    else if (head.startsWith('<!', at)) at = endOf(head, '>', at);
    else break;
    if (at < 0) return null;
  }
  const match = /^<([A-Za-z_][\w.:-]*)/.exec(head.slice(at, at + 256));
  return match ? match[1]! : null;
}

function endOf(text: string, marker: string, from: number): number {
  const found = text.indexOf(marker, from);
  return found < 0 ? -1 : found + marker.length;
}

/** An XML name without its prefix. */
export function localName(name: string): string {
  const colon = name.indexOf(':');
  return colon < 0 ? name : name.slice(colon + 1);
}
