// HTML as plain text for bodies and documents (an HTML-only mail, an .html file in an export):
// html-to-text with one configuration, so mail and documents read the same way. Links keep their
// text, not their address; images are dropped; headings keep their case; lines are not wrapped.
// Elements nested deeper than MAX_NESTING_DEPTH are left out, marked by `…` (html-to-text walks
// the document recursively: unbounded, hostile nesting overflowed the stack).
import { compile } from 'html-to-text';
import { MAX_NESTING_DEPTH } from '../parse/nesting.js';

export const htmlToText: (html: string) => string = compile({
  wordwrap: false,
  limits: { maxDepth: MAX_NESTING_DEPTH, ellipsis: '…' },
  selectors: [
    { selector: 'a', options: { ignoreHref: true } },
    { selector: 'img', format: 'skip' },
    ...['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((selector) => ({ selector, options: { uppercase: false } })),
  ],
});
