// The fixtures of every registered source, for the contract suite (test/source-contract.test.ts):
// a source without an entry here fails it, so a new source cannot be registered without them.
// Files under test/fixtures/ as they are; binary formats (photos, PDF, Word) are built here from
// their specifications (test/support/media.ts, test/fixtures/documents/make.ts), as their own
// tests build them. Each fixture is detected as its source by content or, where Takeout says it
// by name only, by its path.
import { readFileSync } from 'node:fs';
import { docxEntries, makePdf } from '../fixtures/documents/make.js';
import { buildZip } from './archives.js';
import { gif, jpeg, mp4, png } from './media.js';

export interface SourceFixture {
  /** The file's path as the source is told it: `Takeout/` and its place under test/fixtures/. */
  path: string;
  bytes: Buffer;
}

const FIXTURES = new URL('../fixtures/', import.meta.url);

/** Files under test/fixtures/. */
function files(...names: string[]): SourceFixture[] {
  return names.map((name) => ({ path: `Takeout/${name}`, bytes: readFileSync(new URL(name, FIXTURES)) }));
}

function built(path: string, bytes: Buffer | string): SourceFixture {
  return { path, bytes: Buffer.from(bytes) };
}

export const SOURCE_FIXTURES: Readonly<Record<string, readonly SourceFixture[]>> = {
  'google.location.records': files(
    'google/location-records/Records.json',
    'google/location-records/Location History.json',
    'google/location-records/records-bad-elements.json',
    'google/location-records/records-empty.json',
    'google/location-records/records-invalid-utf8.json',
    'google/location-records/records-truncated.json',
    'location-extra/Records.json',
  ),
  'google.location.semantic': files(
    'google/semantic-location-history/2019_MARCH.json',
    'google/semantic-location-history/2023_JANUARY.json',
    'timeline-variants/semantic-spellings/2020_JANUARY.json',
  ),
  'google.location.ondevice': files(
    'google/timeline-ondevice/Timeline.json',
    'google/timeline-ondevice/location-history.json',
    'timeline-variants/android-raw-signals/Timeline.json',
    'timeline-variants/ios-variants/location-history.json',
  ),
  'google.location.edits': files('location-extra/Timeline Edits.json'),
  'google.location.settings': files('location-extra/Settings.json'),
  'google.location.kml': files(
    'location-extra/Location History.kml',
    'location-extra/bad-values.kml',
    'location-extra/history-2019-01-04.kml',
    'location-extra/timestamped-points.kml',
    'location-extra/track-prefixed.kml',
    'location-extra/truncated.kml',
  ),
  'google.myactivity.json': files(
    'google/my-activity-json/Maps/MyActivity.json',
    'google/my-activity-json/Search/My Activity.json',
    'google/my-activity-json/YouTube/search-history.json',
    'google/my-activity-json/YouTube/watch-history.json',
  ),
  'google.myactivity.html': files(
    'google/my-activity-html/legacy-MyActivity.html',
    'google/my-activity-html/maps-MyActivity.html',
    'google/my-activity-html/search-MyActivity.html',
    'google/my-activity-html/watch-history.html',
    // A few of the languages: other alphabets, another date order, a pretty-printed copy.
    'myactivity-localized/es.html',
    'myactivity-localized/fr-pretty.html',
    'myactivity-localized/ja.html',
    'myactivity-localized/ru.html',
  ),
  'google.youtube.playlistitem': files('google/youtube-playlistitem/watch-history.json'),
  'google.youtube.csv': files(
    'google/youtube-csv/Mix.csv',
    'google/youtube-csv/Road trip-videos.csv',
    'google/youtube-csv/comments-2023.csv',
    'google/youtube-csv/comments-unclosed.csv',
    'google/youtube-csv/comments.csv',
    'google/youtube-csv/playlists.csv',
    'google/youtube-csv/subscriptions.csv',
    'youtube-comments/Kommentare.csv',
    'youtube-comments/Livechats.csv',
    'youtube-comments/live chats-currency.csv',
    'youtube-comments/live chats.csv',
  ),
  'google.youtube.comments.html': files(
    'youtube-comments/Meine Kommentare.html',
    'youtube-comments/meine-live-chat-nachrichten.html',
    'youtube-comments/my-comments.html',
    'youtube-comments/my-live-chat-messages.html',
  ),
  'google.chrome.history': files('google/chrome-history/BrowserHistory.json', 'google/chrome-history/History.json'),
  'google.play': files('google/play-store/Installs.json', 'google/play-store/Library.json', 'google/play-store/Purchase History.json'),
  'google.keep': files('google/keep/Idea.json', 'google/keep/Old note.json', 'google/keep/Shopping.json'),
  'google.gmail.mbox': files('mbox/crlf.mbox', 'mbox/no-blank-line.mbox', 'mbox/no-final-newline.mbox', 'mbox/takeout.mbox', 'mbox/truncated.mbox'),
  'google.fit.daily': files(
    'google/fit/Daily Summaries.csv',
    'google/fit/Daily activity metrics.csv',
    'google/fit/Daily activity metrics/2021-02-01.csv',
    'google/fit/Daily activity metrics/2021-02-02.csv',
  ),
  'google.fit.sessions': files(
    'google/fit/All Sessions/2021-04-19T22_57_39.686+02_00_RUNNING.json',
    'google/fit/All Sessions/2021-05-01T08_00_00.000+02_00_WALKING.json',
    // Recognised by its place in Fit/All Sessions/ only: its head shows no session.
    'google/fit/All Sessions/2021-05-02T09_00_00.000Z_BIKING.json',
  ),
  'google.fit.raw': files('google/fit/All Data/raw_com.google.step_count.delta_com.google.android.gms_estimated_steps.json'),
  'google.fit.activities': files(
    'google/fit-tcx/2019-05-04T10_15_30+02_00_RUNNING.tcx',
    'google/fit-tcx/2019-06-01T07_00_00+02_00_WALKING.tcx',
    'google/fit-tcx/bad-values.tcx',
    'google/fit-tcx/truncated.tcx',
  ),
  'google.contacts.vcf': files('contacts/google-export.vcf', 'contacts/v21-quoted-printable.vcf', 'contacts/v40-and-broken.vcf'),
  'google.calendar.ics': files('calendar/google-calendar.ics'),
  'google.photos.sidecar': files('photos/sidecar-2024.json'),
  'google.photos.album': files('photos/album-metadata-old.json'),
  'media.file': [
    built(
      'Takeout/Google Photos/Trip/IMG_0001.jpg',
      jpeg({ width: 64, height: 48, exif: { make: 'Fixture', model: 'One', orientation: 6, dateTimeOriginal: '2024:01:02 10:11:12', offsetTimeOriginal: '+02:00', gps: { lat: 48.85, lon: 2.29, alt: 35 } } }),
    ),
    built('Takeout/Google Photos/Trip/IMG_0002.png', png(16, 16, { exif: { make: 'Fixture' } })),
    built('Takeout/Google Photos/Trip/anim.gif', gif(8, 8)),
    built('Takeout/Google Photos/Trip/VID_0001.mp4', mp4({ durationSeconds: 3, width: 320, height: 240, createdAt: new Date('2024-01-02T10:00:00Z'), location: '+48.8584+002.2945/', mdatBytes: 256 })),
  ],
  'document.pdf': [built('Takeout/Drive/report.pdf', makePdf(['Page one text', 'Page two, café'], { title: 'Fixture', author: 'fixture' }))],
  'document.docx': [built('Takeout/Drive/letter.docx', buildZip(docxEntries(['First paragraph', 'Zweiter Absatz é'], { title: 'Fixture', creator: 'fixture', created: '2024-01-01T00:00:00Z' })))],
  'document.csv': files('documents/messy-semicolon.csv', 'google/youtube-csv/channel.csv'),
  'document.json': files('documents/unknown-shape.json', 'google/location-records/latitude-feed.json'),
  'document.file': [...files('google/my-activity-html/empty-MyActivity.html'), built('Takeout/Drive/notes.txt', 'Plain notes\nwith two lines, and ünïcödé.\n')],
};
