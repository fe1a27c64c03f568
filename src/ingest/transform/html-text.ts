// HTML as plain text for bodies and documents (an HTML-only mail, an .html file in an export):
// html-to-text with one configuration, so mail and documents read the same way. Links keep their
// text, not their address; images are dropped; headings keep their case; lines are not wrapped.
import { compile } from 'html-to-text';

export const htmlToText: (html: string) => string = compile({
  wordwrap: false,
  selectors: [
    { selector: 'a', options: { ignoreHref: true } },
    { selector: 'img', format: 'skip' },
    ...['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((selector) => ({ selector, options: { uppercase: false } })),
  ],
});
