// The Google Takeout sources that read HTML and CSV rather than JSON. Kept apart from the JSON
// sources' index.ts so the two lists can be written side by side; the registry merges them.
import type { Source } from '../../source.js';
import { myActivityHtmlSource } from './my-activity/html.js';
import { youtubeCommentsHtmlSource } from './youtube/comments-html.js';
import { youtubeCsvSource } from './youtube/csv.js';

export const googleHtmlCsvSources: readonly Source[] = [myActivityHtmlSource, youtubeCsvSource, youtubeCommentsHtmlSource];
