// The Google sources whose product has no folder of its own (one source each: Chrome history,
// Keep, Play Store, Gmail) as the registry (../registry.ts) knows them. Detection only: nothing
// here imports a parser.
import { isSeparatorLine } from '../../parse/mbox.js';
import { baseName, describeJsonHead } from '../../parse/json-head.js';
import { parserAt, type Confidence, type Probe, type SourceEntry } from '../../source.js';
import { foldName } from './takeout-names.js';

const CHROME_FILE_NAMES = new Set(['BrowserHistory.json', 'History.json', 'Historique.json', 'Verlauf.json', 'Historial.json', 'Cronologia.json', 'Geschiedenis.json'].map(foldName));

export const CHROME_HISTORY: SourceEntry = {
  id: 'google.chrome.history',
  description: 'Chrome browsing history from Google Takeout (BrowserHistory.json / History.json)',
  detect(probe: Probe): Confidence | null {
    const shape = describeJsonHead(probe.head);
    if (shape.root === 'object' && shape.arrays.has('Browser History')) return 'content';
    // `History.json` is a common name: only under a Chrome folder.
    const inChromeFolder = /(^|\/)Chrome\//i.test(probe.path);
    return inChromeFolder && CHROME_FILE_NAMES.has(foldName(baseName(probe.path))) ? 'path' : null;
  },
  standalone: true,
  parser: parserAt(import.meta.url, './chrome-history.js', 'chromeHistorySource'),
};

export const KEEP: SourceEntry = {
  id: 'google.keep',
  description: 'Google Keep notes (one JSON file per note)',
  detect(probe: Probe): Confidence | null {
    const shape = describeJsonHead(probe.head);
    if (shape.root === 'object' && shape.keys.has('userEditedTimestampUsec') && (shape.keys.has('textContent') || shape.keys.has('listContent') || shape.keys.has('isTrashed'))) {
      return 'content';
    }
    return /(^|\/)Keep\/[^/]+\.json$/i.test(probe.path) && baseName(probe.path) !== 'Labels.json' ? 'path' : null;
  },
  standalone: false,
  parser: parserAt(import.meta.url, './keep.js', 'keepSource'),
};

/** The member wrapping each entry of a Play Store file, one per file kind (play-store.ts reads each). */
export const PLAY_ENTRY_WRAPPERS = ['install', 'libraryDoc', 'purchaseHistory', 'orderHistory'] as const;
const PLAY_FILE_NAMES = new Set(['Installs.json', 'Library.json', 'Purchase History.json', 'Order History.json'].map(foldName));

export const PLAY_STORE: SourceEntry = {
  id: 'google.play',
  description: 'Google Play Store installs, library, purchase and order history (Takeout JSON)',
  detect(probe: Probe): Confidence | null {
    const shape = describeJsonHead(probe.head);
    if (shape.root === 'array' && PLAY_ENTRY_WRAPPERS.some((wrapper) => shape.keys.has(`[].${wrapper}`) && shape.keys.has(`[].${wrapper}.doc`))) {
      return 'content';
    }
    const inPlayFolder = /(^|\/)Google Play Store\//i.test(probe.path);
    return inPlayFolder && PLAY_FILE_NAMES.has(foldName(baseName(probe.path))) ? 'path' : null;
  },
  standalone: false,
  parser: parserAt(import.meta.url, './play-store.js', 'playStoreSource'),
};

const MBOX_PATH_NAME = /\.mbox$/i;
/** A header field line: a name of printable ASCII without colon, then a colon (RFC 5322 §2.2). */
export const HEADER_FIELD = /^[\x21-\x39\x3b-\x7e]+[ \t]*:/;

export const GMAIL_MBOX: SourceEntry = {
  id: 'google.gmail.mbox',
  description: 'Gmail messages (.mbox from Google Takeout, or any mboxrd file)',
  detect(probe: Probe): Confidence | null {
    // First non-empty line a separator, the next one a header field.
    const lines = probe.head.toString('latin1', 0, Math.min(probe.head.length, 4096)).replace(/^[\r\n]+/, '').split('\n', 2);
    const separator = (lines[0] ?? '').replace(/\r$/, '');
    if (lines.length === 2 && isSeparatorLine(separator) && HEADER_FIELD.test(lines[1] ?? '')) return 'content';
    return MBOX_PATH_NAME.test(probe.path) ? 'path' : null;
  },
  // Its parser puts attachments into the blob store.
  standalone: false,
  parser: parserAt(import.meta.url, './gmail-mbox.js', 'gmailMboxSource'),
};
