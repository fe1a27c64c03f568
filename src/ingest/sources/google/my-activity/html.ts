// Google Takeout "My Activity" in its default HTML format: `My Activity/<Product>/MyActivity.html`
// (older exports: `My Activity.html`) for Search, YouTube, Maps, Chrome, Assistant, Play..., and
// YouTube's `history/watch-history.html` and `search-history.html`, which are the same format.
// Takeout writes the page in the account's display language: its file and folder names
// (`Mi actividad/…/MiActividad.html`, `historial de cerques.html`), title, action words,
// captions and dates. The file is recognised by its structure (detect below); the words are read
// per language with the data of locales.ts.
//
// Each entry is a `div.outer-cell` holding
//   - a header cell: the product ("Search", "YouTube", "Maps");
//   - a body content cell (`mdl-typography--body-1`): lines split by <br>: first the verb phrase
//     and usually a link ("Searched for <a href=…>cats</a>"), then optional subtitle lines (a
//     YouTube channel link), and last the localized date;
//   - an empty right-aligned content cell, ignored;
//   - a caption content cell: "<b>Products:</b>", "<b>Locations:</b>", "<b>Details:</b>"
//     labels, each followed by value lines.
//
// Each entry becomes one ItemRecord:
//   kind       from header + verb, per the table in kinds.ts: search, page_visit,
//              page_view, video_watch, video_search, map_search, map_view, map_directions,
//              image_search, app_use, app_install, voice_command, ... and `activity` otherwise;
//              a localized verb ("Has buscado", "Vous avez regardé", "… aufgerufen") counts as
//              the English one it translates
//   title      the link text, or the words after the verb when there is no link ("Used Maps"
//              gives "Maps"); null for YouTube's "Watched a video that has been removed"
//   url        the link; Google's redirect wrapper (https://www.google.com/url?q=…) is unwrapped
//              and the wrapper kept in attributes.redirectUrl
//   occurredAt the date line (formats and zones: takeout-dates.ts), read in the entry's
//              candidate languages: the page title's language when the title is one Takeout
//              writes, else the languages of the caption labels ("Productos:"), else those of the
//              action words, else every language read (then it must read alike in all that read
//              it); utcOffsetMinutes is the stated zone's offset, null when the line states no
//              zone (legacy UTC)
//   lat/lon    from a Locations link carrying coordinates (`?q=lat,lon`, `center=`, `@lat,lon`)
//   attributes header, action (the verb as written), products, subtitles [{name, url}],
//              locations [{text, url, sourceUrl}], details, removed, redirectUrl, zoneStated,
//              displayLanguage (the page's language, when one was determined), and any other
//              caption label under `captions` (known ones by their English name: "Why is this
//              here?")
//   key        ['myactivity', header, action, title, url, occurredAt in ms]
//
// Rejections, each with the byte offset of the entry's `<div class="outer-cell` tag:
//   unsupported  a date line in no candidate language, in two that read it differently, or
//                with an unknown or ambiguous zone (the text is quoted); a file where no entry
//                was found at all
//   invalid      a date that does not exist (Feb 30)
//   malformed    an entry without the verb line or without the date line; an entry cut off by
//                the end of the file inside its date line (the line may be incomplete)
//   too_large    an entry whose text exceeds MAX_ENTRY_BYTES
//
// Streaming: the file is fed to htmlparser2 chunk by chunk, never held whole. Bytes are decoded
// as Latin-1 for the parser, so each character is one byte and the parser's indices are byte
// offsets; the text of an entry is then re-decoded from UTF-8 (invalid sequences become U+FFFD
// and are counted in repairs.invalidUtf8) and its HTML entities decoded (../takeout-html.ts).
// Tags and class names are ASCII, so the markup reads the same either way.
//
// Unbalanced markup (real exports close more divs than they open, or fewer): an entry ends when
// the div that opened it closes, when the next outer-cell opens, or at the end of the file,
// whichever comes first; a cell ends likewise when the next cell opens. A file cut off after a
// complete entry (uploaders truncate them) loses nothing; an entry whose date cell is still open
// at the end of the file is quarantined with its text.
import type { Readable } from 'node:stream';
import { Parser, type Handler } from 'htmlparser2';
import type { ItemRecord, ParseEvent, Rejection, RepairCounts } from '../../../records.js';
import { defineSource, type ParseContext, type Source } from '../../../source.js';
import { MY_ACTIVITY_HTML } from './entries.js';
import { ACTION_PHRASES, REMOVED_OBJECT, activityKind, canonicalAction, coordinatesInUrl, splitActivityTitle, unwrapGoogleRedirect } from './kinds.js';
import {
  ACTIVITY_LANGUAGES,
  captionLabel,
  languagesOfTitle,
  localizedAction,
  splitLocalizedTitle,
  type ActivityLanguage,
  type LocalizedAction,
} from './locales.js';
import { parseActivityDateIn } from '../takeout-dates.js';
import { byteChunks } from '../../../parse/byte-chunks.js';
import { decodeHref, decodeHtmlText } from '../takeout-html.js';

export const MY_ACTIVITY_HTML_SOURCE_ID = MY_ACTIVITY_HTML.id;

/** Text bytes one entry may hold; real entries hold a few hundred. */
export const MAX_ENTRY_BYTES = 1024 * 1024;
const EXCERPT_CHARS = 200;

const KNOWN_ACTIONS = new Set(ACTION_PHRASES);

export const myActivityHtmlSource: Source = defineSource(MY_ACTIVITY_HTML, {
  parse: parseMyActivityHtml,
});

export async function* parseMyActivityHtml(input: Readable, context: ParseContext): AsyncIterable<ParseEvent> {
  const reader = new EntryReader(context.repairs);
  const parser = new Parser(reader, { decodeEntities: false, lowerCaseTags: true, lowerCaseAttributeNames: true });
  reader.parser = parser;
  let bytesRead = 0;
  for await (const chunk of byteChunks(input, context.path)) {
    parser.write(chunk.toString('latin1'));
    bytesRead += chunk.length;
    if (reader.events.length > 0) yield* reader.takeEvents();
  }
  // What end() closes, the file left open.
  reader.ending = true;
  parser.end();
  yield* reader.takeEvents();
  if (reader.entriesSeen === 0) {
    yield { kind: 'reject', rejection: { category: 'unsupported', reason: `no My Activity entries (div.outer-cell) in ${bytesRead} bytes`, byteOffset: 0 } };
  }
}

/** A <br>-separated line of a cell, as raw Latin-1 text (see the module comment). */
interface RawLine {
  raw: string;
  /** Text before the first link. */
  beforeLink: string;
  /** Text after the first link and outside any link (German, Japanese... put the verb there). */
  afterLink: string;
  links: Array<{ href: string | null; raw: string }>;
  bold: string;
}

type CellRole = 'header' | 'body' | 'caption';

interface EntryDraft {
  startByte: number;
  divDepth: number;
  cells: Record<CellRole, RawLine[]>;
  bodySeen: boolean;
  textBytes: number;
  /** The file ended inside the body cell: its last line, the date, may be incomplete. */
  cutInBody: boolean;
  /** The page's language(s) by its title; empty when the title is not one Takeout writes. */
  pageLanguages: readonly ActivityLanguage[];
}

/** Receives htmlparser2's events and assembles entries; completed ones wait in `events`. */
class EntryReader implements Partial<Handler> {
  parser: Parser | null = null;
  events: ParseEvent[] = [];
  entriesSeen = 0;
  /** Set before the parser's end(): tags closed from then on were left open by the file. */
  ending = false;
  private pageLanguages: readonly ActivityLanguage[] = [];
  private title: string | null = null;
  private divDepth = 0;
  private entry: EntryDraft | null = null;
  private cellRole: CellRole | null = null;
  private cellDivDepth = 0;
  private line: RawLine | null = null;
  private link: RawLine['links'][number] | null = null;
  private inBold = false;

  constructor(private readonly repairs: RepairCounts) {}

  takeEvents(): ParseEvent[] {
    const events = this.events;
    this.events = [];
    return events;
  }

  onopentag(name: string, attributes: Record<string, string>): void {
    if (name === 'div') {
      this.divDepth++;
      const classes = attributes.class;
      if (classes !== undefined) this.openClassedDiv(` ${classes} `);
    } else if (name === 'br') {
      if (this.line && this.cellRole) this.startLine(this.cellRole);
    } else if (name === 'a') {
      if (this.line) {
        this.link = { href: attributes.href ?? null, raw: '' };
        this.line.links.push(this.link);
      }
    } else if (name === 'b') {
      this.inBold = this.line !== null;
    } else if (name === 'title' && this.entriesSeen === 0 && !this.entry) {
      this.title = '';
    }
  }

  onclosetag(name: string): void {
    if (name === 'div') {
      if (this.cellRole && this.divDepth === this.cellDivDepth) {
        if (this.ending && this.cellRole === 'body' && this.entry) this.entry.cutInBody = true;
        this.endCell();
      }
      if (this.entry && this.divDepth === this.entry.divDepth) this.finishEntry();
      this.divDepth--;
    } else if (name === 'a') {
      this.link = null;
    } else if (name === 'b') {
      this.inBold = false;
    } else if (name === 'title' && this.title !== null) {
      this.pageLanguages = languagesOfTitle(decodeText(this.title.slice(0, 1000), null));
      this.title = null;
    }
  }

  ontext(text: string): void {
    if (this.title !== null && this.title.length < 1000) this.title += text;
    const line = this.line;
    if (!line || !this.entry) return;
    this.entry.textBytes += text.length;
    if (this.entry.textBytes > MAX_ENTRY_BYTES) return;
    line.raw += text;
    if (this.link) this.link.raw += text;
    else if (line.links.length === 0) line.beforeLink += text;
    else line.afterLink += text;
    if (this.inBold) line.bold += text;
  }

  onend(): void {
    if (this.ending && this.cellRole === 'body' && this.entry) this.entry.cutInBody = true;
    this.finishEntry();
  }

  private openClassedDiv(classes: string): void {
    if (classes.includes(' outer-cell ')) {
      this.finishEntry();
      this.entry = {
        startByte: this.parser?.startIndex ?? 0,
        divDepth: this.divDepth,
        cells: { header: [], body: [], caption: [] },
        bodySeen: false,
        textBytes: 0,
        cutInBody: false,
        pageLanguages: this.pageLanguages,
      };
      return;
    }
    const entry = this.entry;
    if (!entry) return;
    if (classes.includes(' header-cell ')) {
      this.startCell('header');
    } else if (classes.includes(' content-cell ')) {
      if (classes.includes(' mdl-typography--caption ')) this.startCell('caption');
      else if (!classes.includes(' mdl-typography--text-right ') && !entry.bodySeen) {
        entry.bodySeen = true;
        this.startCell('body');
      } else this.endCell();
    }
  }

  private startCell(role: CellRole): void {
    this.endCell();
    this.cellRole = role;
    this.cellDivDepth = this.divDepth;
    this.startLine(role);
  }

  private startLine(role: CellRole): void {
    if (!this.entry) return;
    this.line = { raw: '', beforeLink: '', afterLink: '', links: [], bold: '' };
    this.link = null;
    this.inBold = false;
    this.entry.cells[role].push(this.line);
  }

  private endCell(): void {
    this.cellRole = null;
    this.line = null;
    this.link = null;
    this.inBold = false;
  }

  private finishEntry(): void {
    const entry = this.entry;
    if (!entry) return;
    this.endCell();
    this.entry = null;
    this.entriesSeen++;
    this.events.push(buildEvent(entry, this.repairs));
  }
}

/** A line decoded to text, with its links. */
interface TextLine {
  text: string;
  beforeLink: string;
  afterLink: string;
  links: Array<{ url: string | null; text: string }>;
  bold: string;
}

function buildEvent(entry: EntryDraft, repairs: RepairCounts): ParseEvent {
  const reject = (category: Rejection['category'], reason: string, excerpt: string | null = null): ParseEvent => ({
    kind: 'reject',
    rejection: { category, reason, byteOffset: entry.startByte, excerpt: excerpt === null ? null : excerpt.slice(0, EXCERPT_CHARS) },
  });
  if (entry.textBytes > MAX_ENTRY_BYTES) {
    return reject('too_large', `My Activity entry holds ${entry.textBytes} bytes of text, over the ${MAX_ENTRY_BYTES}-byte limit`);
  }
  const header = entry.cells.header.map((line) => decodeText(line.raw, repairs)).filter(Boolean).join(' ');
  const body = decodeLines(entry.cells.body, repairs);
  if (body.length === 0) return reject('malformed', 'My Activity entry has no content cell text', header);
  const first = body[0] as TextLine;
  const dateLine = body[body.length - 1] as TextLine;
  if (body.length < 2) return reject('malformed', 'My Activity entry has a single content line; expected the activity and then its date', first.text);
  if (entry.cutInBody) return reject('malformed', 'My Activity entry cut off by the end of the file inside its date line', dateLine.text);

  const activity = readActivity(header, first);
  const caption = readCaption(decodeLines(entry.cells.caption, repairs));
  // The languages the date may be written in: the page's by its title, else by the caption's
  // labels, else by the action words, else any (then all that read it must agree).
  const candidates =
    entry.pageLanguages.length > 0 ? entry.pageLanguages : (caption.languages ?? activity.languages ?? ACTIVITY_LANGUAGES);
  const parsedDate = parseActivityDateIn(dateLine.text, candidates);
  if (!parsedDate.ok) return reject(parsedDate.category, parsedDate.reason, dateLine.text);
  const displayLanguage = candidates.length === 1 ? candidates[0] : parsedDate.languages.length === 1 ? parsedDate.languages[0] : undefined;

  let { title, url } = activity;
  const { action } = activity;
  const attributes: Record<string, unknown> = { header, action, zoneStated: parsedDate.zoneStated };
  if (displayLanguage !== undefined) attributes.displayLanguage = displayLanguage;
  const subtitles = body.slice(1, -1).map((line) => ({ name: line.text, url: line.links[0]?.url ?? null }));
  if (subtitles.length > 0) attributes.subtitles = subtitles;
  if (activity.removed) attributes.removed = true;
  const redirectTarget = url === null ? null : unwrapGoogleRedirect(url);
  if (redirectTarget !== null) {
    attributes.redirectUrl = url;
    url = redirectTarget;
  }

  if (caption.products.length > 0) attributes.products = caption.products;
  if (caption.locations.length > 0) attributes.locations = caption.locations;
  if (caption.details.length > 0) attributes.details = caption.details;
  if (caption.others !== null) attributes.captions = caption.others;
  const coordinates = caption.locations.map((location) => coordinatesInUrl(location.url)).find((found) => found !== null) ?? null;
  if (title === '') title = null;

  const occurredAt = parsedDate.date;
  const record: ItemRecord = {
    type: 'item',
    source: MY_ACTIVITY_HTML_SOURCE_ID,
    key: ['myactivity', header, action, title, url, occurredAt.getTime()],
    kind: activityKind(header, activity.englishAction),
    occurredAt,
    utcOffsetMinutes: parsedDate.zoneStated ? parsedDate.utcOffsetMinutes : null,
    title,
    url,
    lat: coordinates?.lat ?? null,
    lon: coordinates?.lon ?? null,
    attributes,
  };
  return { kind: 'record', record, offset: entry.startByte };
}

interface Activity {
  /** The verb as written ("Searched for", "Has buscado", "aufgerufen"); null when there is none. */
  action: string | null;
  /** The English phrase it is or translates, for the kind; null when unknown. */
  englishAction: string | null;
  /** The languages that write this verb; null when unknown. */
  languages: readonly ActivityLanguage[] | null;
  title: string | null;
  url: string | null;
  removed: boolean;
}

/**
 * The first body line: a verb and a link ("Has buscado <a>…</a>"), a link and a verb after it
 * ("<a>…</a> aufgerufen"), or plain text opening or ending with the verb ("Used Maps", "Vous avez
 * regardé la story de …").
 */
function readActivity(header: string, first: TextLine): Activity {
  const firstLink = first.links[0];
  let written: string | null = null;
  let localized: LocalizedAction | null = null;
  let title: string | null;
  let url: string | null = null;
  let removed = false;
  if (firstLink) {
    title = firstLink.text;
    url = firstLink.url;
    if (first.beforeLink !== '') {
      written = first.beforeLink;
      if (!KNOWN_ACTIONS.has(written)) localized = localizedAction(written, 'before');
    } else if (first.afterLink !== '') {
      localized = localizedAction(first.afterLink, 'after');
      if (localized) written = first.afterLink;
    }
  } else {
    const english = splitActivityTitle(first.text);
    const other = english.action === null ? splitLocalizedTitle(first.text) : null;
    if (other) {
      written = other.written;
      localized = other.action;
      title = other.object;
    } else {
      written = english.action;
      title = english.object;
    }
    if (title !== null && REMOVED_OBJECT.test(title)) {
      title = null;
      removed = true;
    }
  }
  const english = written !== null && KNOWN_ACTIONS.has(written) ? written : null;
  return {
    action: written,
    englishAction: english ?? (localized ? canonicalAction(header, localized.canonical) : null),
    languages: english !== null ? ['en'] : (localized?.languages ?? null),
    title,
    url,
    removed,
  };
}

function decodeLines(lines: RawLine[], repairs: RepairCounts): TextLine[] {
  const decoded: TextLine[] = [];
  for (const line of lines) {
    const text = decodeText(line.raw, repairs);
    if (text === '' && line.links.length === 0) continue;
    decoded.push({
      text,
      // The pieces repeat the line's bytes, so their repairs were counted with the line.
      beforeLink: decodeText(line.beforeLink, null),
      afterLink: decodeText(line.afterLink, null),
      links: line.links.map((link) => ({
        url: link.href === null ? null : decodeHref(link.href),
        text: decodeText(link.raw, null),
      })),
      bold: decodeText(line.bold, null),
    });
  }
  return decoded;
}

interface Caption {
  products: string[];
  locations: Array<{ text: string; url: string | null; sourceUrl: string | null }>;
  details: string[];
  others: Record<string, string[]> | null;
  /** The languages that write all the known labels seen; null when none is known (or they share none). */
  languages: readonly ActivityLanguage[] | null;
}

/**
 * Reads caption lines: a line opening with bold text is a label ("Products:", "Produits :",
 * "产品：", "Why is this here?"), the lines after it its values until the next label. Known
 * labels are kept by their English name, others as written without the colon.
 */
function readCaption(lines: TextLine[]): Caption {
  const caption: Caption = { products: [], locations: [], details: [], others: null, languages: null };
  let labelLanguages: ActivityLanguage[] | null = null;
  let label: string | null = null;
  for (const line of lines) {
    if (line.bold !== '' && line.text.startsWith(line.bold)) {
      const known = captionLabel(line.bold);
      label = known?.label ?? line.bold.replace(/\s*[:：]$/, '');
      if (known) labelLanguages = labelLanguages === null ? known.languages : labelLanguages.filter((language) => known.languages.includes(language));
      const rest = line.text.slice(line.bold.length).trim();
      if (rest === '') continue;
      addCaptionValue(caption, label, { ...line, text: rest });
      continue;
    }
    if (label !== null) addCaptionValue(caption, label, line);
  }
  caption.languages = labelLanguages !== null && labelLanguages.length > 0 ? labelLanguages : null;
  return caption;
}

function addCaptionValue(caption: Caption, label: string, line: TextLine): void {
  if (label === 'Products') caption.products.push(line.text);
  else if (label === 'Details') caption.details.push(line.text);
  else if (label === 'Locations') {
    caption.locations.push({ text: line.text, url: line.links[0]?.url ?? null, sourceUrl: line.links[1]?.url ?? null });
  } else {
    caption.others ??= {};
    (caption.others[label] ??= []).push(line.text);
  }
}

/** Raw Latin-1 text to clean text (../takeout-html.ts): &nbsp; and &emsp; are layout here. */
function decodeText(raw: string, repairs: RepairCounts | null): string {
  return decodeHtmlText(raw, repairs, 'layout');
}
