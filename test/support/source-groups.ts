// Groups of registered sources that some tests look at together (detection among the Google JSON
// sources...). The registry (src/ingest/sources/registry.ts) lists each source once; these are
// picked from it by id, and a group naming a source the registry lacks fails where it is loaded.
import type { Source } from '../../src/ingest/source.js';
import { SOURCES } from '../../src/ingest/sources/all.js';

function pick(...ids: string[]): readonly Source[] {
  return ids.map((id) => {
    const source = SOURCES.find((s) => s.id === id);
    if (!source) throw new Error(`source ${id} is not registered`);
    return source;
  });
}

/** Google Takeout's JSON sources (not Fit's or Google Photos'). */
export const googleJsonSources = pick(
  'google.location.records',
  'google.location.semantic',
  'google.location.ondevice',
  'google.location.edits',
  'google.location.settings',
  'google.myactivity.json',
  'google.youtube.playlistitem',
  'google.chrome.history',
  'google.play',
  'google.keep',
);

/** Google Takeout's HTML and CSV sources (not Fit's). */
export const googleHtmlCsvSources = pick('google.myactivity.html', 'google.youtube.csv', 'google.youtube.comments.html');

/** The document sources (formats/documents/): the fallbacks, in the registry's order. */
export const documentSources = SOURCES.filter((source) => source.id.startsWith('document.'));
