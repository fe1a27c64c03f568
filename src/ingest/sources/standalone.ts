// The sources whose parser needs nothing but its input and context.path/exportedAt (no blob
// store, no database), so that a large file of theirs may be parsed in a worker thread
// (ingest/pipeline/parse-in-worker.ts). Each one is loaded on its own: a worker that imported
// every source (sources/index.ts, with the HTML, mail, media and document parsers) spent 0.3 s of
// its start on modules it never ran (it started in 0.45 s, now 0.2 s).
import type { Source } from '../source.js';

const LOADERS: Readonly<Record<string, () => Promise<Source>>> = {
  'google.location.records': async () => (await import('./google/location/records.js')).locationRecordsSource,
  'google.location.semantic': async () => (await import('./google/location/semantic.js')).semanticLocationHistorySource,
  'google.location.ondevice': async () => (await import('./google/location/ondevice.js')).timelineOnDeviceSource,
  'google.location.kml': async () => (await import('./google/location/kml.js')).locationKmlSource,
  'google.location.edits': async () => (await import('./google/location/edits.js')).timelineEditsSource,
  'google.location.settings': async () => (await import('./google/location/settings.js')).locationSettingsSource,
  'google.myactivity.json': async () => (await import('./google/my-activity/json.js')).myActivityJsonSource,
  'google.myactivity.html': async () => (await import('./google/my-activity/html.js')).myActivityHtmlSource,
  'google.youtube.comments.html': async () => (await import('./google/youtube/comments-html.js')).youtubeCommentsHtmlSource,
  'google.chrome.history': async () => (await import('./google/chrome-history.js')).chromeHistorySource,
  'google.fit.raw': async () => (await import('./google/fit/raw.js')).fitRawSource,
};

/** Whether files of this source may be parsed in a worker thread. */
export function isStandalone(sourceId: string): boolean {
  return Object.hasOwn(LOADERS, sourceId);
}

/** The source, with only the modules it needs (in a parse worker). */
export async function loadStandaloneSource(sourceId: string): Promise<Source> {
  if (!isStandalone(sourceId)) throw new Error(`no standalone source ${sourceId}`);
  return LOADERS[sourceId]!();
}
