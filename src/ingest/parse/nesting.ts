// How deeply nested input every parser accepts. Real exports nest a few levels (a Semantic
// Location History segment, the deepest, about 10); hostile input can nest millions, and code
// that walks a value recursively (JSON.stringify, String(), html-to-text, our own walkers)
// overflows the stack near 5,000 levels. Past this bound a parser refuses the element (a
// quarantine entry with its byte offset) or leaves out what lies deeper, and reads on.

/** Levels of nested arrays/objects (JSON), elements (HTML) or components (iCalendar) read. */
export const MAX_NESTING_DEPTH = 512;
