// The text of Google Takeout's HTML pages (My Activity, older YouTube comments and live chats),
// as their streaming parsers read it: the bytes are fed to htmlparser2 decoded as Latin-1, so
// that each character is one byte and the parser's indices are byte offsets. The text of an entry
// is then re-decoded here from UTF-8 (invalid sequences become U+FFFD, counted in
// repairs.invalidUtf8) and its HTML entities decoded. Tags and class names are ASCII, so the
// markup reads the same either way.
import { decodeHTML, decodeHTMLAttribute } from 'entities';
import type { RepairCounts } from '../../records.js';

const NON_ASCII = /[\x80-\xff]/;
const UTF8_REPLACEMENT_AS_LATIN1 = '\xef\xbf\xbd';
/** Any white space, the encoded kinds (&nbsp;, &emsp;) included once decoded. */
const ANY_WHITESPACE = /\s+/g;
/** HTML's own white space in the markup. */
const HTML_WHITESPACE = /[ \t\n\r\f]+/g;

/**
 * How a page's white space reads:
 *   'layout'  entities are decoded first, then every run of white space is one space: the page
 *             uses &nbsp; and &emsp; for layout (My Activity);
 *   'markup'  only the markup's white space runs are one space, collapsed before entities are
 *             decoded: an encoded line break or no-break space is text (YouTube comments).
 * Either way the text is trimmed.
 */
export type HtmlWhiteSpace = 'layout' | 'markup';

/** Raw Latin-1 text (UTF-8 bytes, one per character) to clean text; counts invalid UTF-8 when given `repairs`. */
export function decodeHtmlText(raw: string, repairs: RepairCounts | null, whiteSpace: HtmlWhiteSpace): string {
  if (raw === '') return raw;
  let text = utf8FromLatin1(raw, repairs);
  if (whiteSpace === 'layout') {
    if (text.includes('&')) text = decodeHTML(text);
    return text.replace(ANY_WHITESPACE, ' ').trim();
  }
  text = text.replace(HTML_WHITESPACE, ' ').trim();
  return text.includes('&') ? decodeHTML(text) : text;
}

/** An href's bytes (read as Latin-1) as UTF-8 text, entities decoded. */
export function decodeHref(raw: string): string {
  const text = NON_ASCII.test(raw) ? Buffer.from(raw, 'latin1').toString('utf8') : raw;
  return (text.includes('&') ? decodeHTMLAttribute(text) : text).trim();
}

/** Latin-1 text read from UTF-8 bytes as the UTF-8 it is; the U+FFFD it makes of invalid sequences are counted in `repairs`. */
function utf8FromLatin1(raw: string, repairs: RepairCounts | null): string {
  if (!NON_ASCII.test(raw)) return raw;
  const text = Buffer.from(raw, 'latin1').toString('utf8');
  // A U+FFFD the file itself holds is valid UTF-8: only the new ones are repairs.
  if (repairs && text.includes('\ufffd')) repairs.invalidUtf8 += countOf(text, '\ufffd') - countOf(raw, UTF8_REPLACEMENT_AS_LATIN1);
  return text;
}

function countOf(text: string, needle: string): number {
  let count = 0;
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length)) count++;
  return count;
}
