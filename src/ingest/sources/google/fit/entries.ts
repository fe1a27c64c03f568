// The Google Fit sources as the registry (../../registry.ts) knows them: the daily aggregation
// CSVs, the sessions, the raw data points and the activities (TCX files). Detection only: nothing
// here imports a parser.
import { describeJsonHead } from '../../../parse/json-head.js';
import { parserAt, type Confidence, type Probe, type SourceEntry } from '../../../source.js';
import { fileKindOf, standardizeHeaderName } from './daily-columns.js';

const DAILY_PATH_NAMES = /(?:^|\/)(?:Daily Summaries\.csv|Daily activity metrics\.csv|Daily activity metrics\/\d{4}-\d{2}-\d{2}\.csv)$/i;

export const FIT_DAILY: SourceEntry = {
  id: 'google.fit.daily',
  description: 'Google Takeout Fit daily aggregation CSVs: daily summaries and per-day 15-minute files',
  detect(probe: Probe): Confidence | null {
    const text = probe.head.toString('utf8');
    const end = text.search(/\r?\n/);
    const firstLine = end === -1 ? text : text.slice(0, end);
    const names = firstLine.split(',').map((name) => standardizeHeaderName(name.replace(/^\s*"|"\s*$/g, '')));
    if (fileKindOf(names) !== null) return 'content';
    return DAILY_PATH_NAMES.test(probe.path) ? 'path' : null;
  },
  standalone: false,
  parser: parserAt(import.meta.url, './daily-csv.js', 'fitDailyCsvSource'),
};

export const FIT_SESSIONS: SourceEntry = {
  id: 'google.fit.sessions',
  description: 'Google Takeout Fit sessions (one JSON file per session, All Sessions/)',
  detect(probe: Probe): Confidence | null {
    const shape = describeJsonHead(probe.head);
    if (shape.root === 'object' && shape.keys.has('fitnessActivity') && shape.keys.has('startTime') && (shape.keys.has('endTime') || shape.keys.has('aggregate'))) {
      return 'content';
    }
    return /(^|\/)Fit\/All Sessions\/[^/]+\.json$/i.test(probe.path) ? 'path' : null;
  },
  standalone: false,
  parser: parserAt(import.meta.url, './sessions.js', 'fitSessionsSource'),
};

export const FIT_RAW: SourceEntry = {
  id: 'google.fit.raw',
  description: 'Google Takeout Fit raw data points (All Data/, one JSON file per data stream)',
  detect(probe: Probe): Confidence | null {
    const shape = describeJsonHead(probe.head);
    if (shape.root === 'object' && (shape.keys.has('Data Points') || (shape.keys.has('Data Source') && shape.keys.size <= 2))) return 'content';
    return /(^|\/)Fit\/All Data\/[^/]+\.json$/i.test(probe.path) ? 'path' : null;
  },
  standalone: true,
  parser: parserAt(import.meta.url, './raw.js', 'fitRawSource'),
};

/** The root element of a Training Center XML (TCX v2) file. */
export const TCX_ROOT = 'TrainingCenterDatabase';

export const FIT_ACTIVITIES: SourceEntry = {
  id: 'google.fit.activities',
  description: 'Google Takeout Fit activities (Activities/, one TCX file per recorded activity), and any TCX file',
  detect(probe: Probe): Confidence | null {
    const root = rootElementName(probe.head.toString('latin1', 0, Math.min(probe.head.length, 64 * 1024)));
    if (root !== null && root.slice(root.indexOf(':') + 1) === TCX_ROOT) return 'content';
    return /\.tcx$/i.test(probe.path) ? 'path' : null;
  },
  standalone: true,
  parser: parserAt(import.meta.url, './activities-tcx.js', 'fitActivitiesSource'),
};

/** The name of the first element, past a BOM, the XML declaration, comments and a DOCTYPE; null when the head shows none. */
function rootElementName(head: string): string | null {
  let at = head.startsWith('\xef\xbb\xbf') ? 3 : 0;
  for (;;) {
    while (at < head.length && /\s/.test(head[at]!)) at++;
    const end = head.startsWith('<?', at) ? '?>' : head.startsWith('<!--', at) ? '-->' : head.startsWith('<!', at) ? '>' : null;
    if (end === null) break;
    const found = head.indexOf(end, at);
    if (found < 0) return null;
    at = found + end.length;
  }
  const match = /^<([A-Za-z_][\w.:-]*)/.exec(head.slice(at, at + 256));
  return match ? match[1]! : null;
}
