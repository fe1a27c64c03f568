// Every source the importer knows, and detection: content shape first, path second (Takeout's
// names are localized, so a file is recognised by what it holds before what it is called).
import type { Probe, Source } from '../source.js';
import { googleHtmlCsvSources } from './google/html-csv-index.js';
import { googleJsonSources } from './google/index.js';
import { gmailMboxSource } from './google/gmail-mbox.js';
import { fitDailyCsvSource } from './google/fit/daily-csv.js';
import { fitRawSource } from './google/fit/raw.js';
import { fitSessionsSource } from './google/fit/sessions.js';
import { vcardSource } from './formats/vcard.js';
import { icalendarSource } from './formats/icalendar.js';
import { locationKmlSource } from './google/location/kml.js';
import { mediaSources } from './formats/media/index.js';
import { documentSources } from './formats/documents/index.js';

export const SOURCES: readonly Source[] = [...googleJsonSources, ...googleHtmlCsvSources, gmailMboxSource, locationKmlSource, fitDailyCsvSource, fitSessionsSource, fitRawSource, vcardSource, icalendarSource,
  ...mediaSources,
  // Last, and below every other source whatever their confidence (they return `fallback`).
  ...documentSources];

/**
 * The source for a file. A match on the name alone is accepted only when `trustName` (the runner
 * passes false when the content is of another type than the name says: a PNG named .json).
 */
export function detectSource(probe: Probe, sources: readonly Source[] = SOURCES, trustName = true): Source | null {
  let byPath: Source | null = null;
  let fallback: Source | null = null;
  for (const source of sources) {
    const confidence = source.detect(probe);
    if (confidence === 'content') return source;
    if (confidence === 'path' && trustName) byPath ??= source;
    if (confidence === 'fallback') fallback ??= source;
  }
  return byPath ?? fallback;
}
