// The Google Takeout JSON sources, for the detection registry. (The HTML My Activity source lives
// beside them in my-activity-html.ts and is registered on its own.)
import type { Source } from '../../source.js';
import { chromeHistorySource } from './chrome-history.js';
import { keepSource } from './keep.js';
import { locationRecordsSource } from './location/records.js';
import { locationSettingsSource } from './location/settings.js';
import { myActivityJsonSource } from './my-activity/json.js';
import { playStoreSource } from './play-store.js';
import { semanticLocationHistorySource } from './location/semantic.js';
import { timelineEditsSource } from './location/edits.js';
import { timelineOnDeviceSource } from './location/ondevice.js';
import { youtubePlaylistItemSource } from './youtube/playlist-items.js';

export const googleJsonSources: readonly Source[] = [
  locationRecordsSource,
  semanticLocationHistorySource,
  timelineOnDeviceSource,
  timelineEditsSource,
  locationSettingsSource,
  myActivityJsonSource,
  youtubePlaylistItemSource,
  chromeHistorySource,
  playStoreSource,
  keepSource,
];

export {
  chromeHistorySource,
  keepSource,
  locationRecordsSource,
  myActivityJsonSource,
  playStoreSource,
  semanticLocationHistorySource,
  timelineEditsSource,
  locationSettingsSource,
  timelineOnDeviceSource,
  youtubePlaylistItemSource,
};
