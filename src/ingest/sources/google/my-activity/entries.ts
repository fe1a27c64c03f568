// The My Activity sources (every Google product's activity, JSON or HTML) as the registry
// (../../registry.ts) knows them. Detection only: nothing here imports a parser.
import { baseName, describeJsonHead } from '../../../parse/json-head.js';
import { parserAt, type Confidence, type Probe, type SourceEntry } from '../../../source.js';
import { foldName } from '../takeout-names.js';

const JSON_FILE_NAMES = new Set(
  ['My Activity.json', 'MyActivity.json', 'watch-history.json', 'search-history.json', 'Mon activité.json', 'Meine Aktivitäten.json', 'Mi actividad.json', 'Le mie attività.json'].map(
    foldName,
  ),
);

export const MY_ACTIVITY_JSON: SourceEntry = {
  id: 'google.myactivity.json',
  description: 'Google My Activity in JSON (every product, including YouTube watch-history.json and search-history.json)',
  detect(probe: Probe): Confidence | null {
    const shape = describeJsonHead(probe.head);
    if (shape.root === 'array' && shape.keys.has('[].header') && shape.keys.has('[].time') && (shape.keys.has('[].title') || shape.keys.has('[].products'))) {
      return 'content';
    }
    return JSON_FILE_NAMES.has(foldName(baseName(probe.path))) ? 'path' : null;
  },
  standalone: true,
  parser: parserAt(import.meta.url, './json.js', 'myActivityJsonSource'),
};

const HTML_PATH_NAMES = /(?:^|\/)(?:my ?activity|watch-history|search-history)\.html$/i;
const OUTER_CELL_IN_HEAD = /class="[^"]*\bouter-cell\b/;
/**
 * The head Takeout writes, whatever the language: a title, then a style sheet opening with
 * Material Design Lite's banner (pretty-printed copies add white space). That sheet runs to about
 * 140 KB, so the first entry lies beyond the probe.
 */
const TAKEOUT_PAGE_HEAD =
  /^\s*(?:<!doctype[^>]*>\s*)?<html>\s*<head>\s*<title>[^<]*<\/title>\s*(?:<meta[^>]*>\s*)*<style type="text\/css">\s*\/\*\*\s*\*\s*material-design-lite\b/i;

export const MY_ACTIVITY_HTML: SourceEntry = {
  id: 'google.myactivity.html',
  description: 'Google Takeout My Activity (HTML), including YouTube watch and search history',
  detect(probe: Probe): Confidence | null {
    const head = probe.head.toString('latin1');
    if (OUTER_CELL_IN_HEAD.test(head) && head.includes('content-cell')) return 'content';
    // Still inside the style sheet at the end of the probe: the entries come after it. (A page
    // whose sheet ended within the probe and showed no entry is not one.)
    if (TAKEOUT_PAGE_HEAD.test(head) && !head.includes('</style>')) return 'content';
    return HTML_PATH_NAMES.test(probe.path) ? 'path' : null;
  },
  standalone: true,
  parser: parserAt(import.meta.url, './html.js', 'myActivityHtmlSource'),
};
