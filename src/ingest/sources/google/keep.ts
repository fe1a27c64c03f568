// Google Keep notes from Takeout: `Keep/<note title>.json`, one JSON object per note:
//   {color, isTrashed, isPinned, isArchived, title, textContent, textContentHtml?, listContent?
//    [{text, textHtml?, isChecked}], labels?[{name}], annotations?[{description, source, title,
//    url}], attachments?[{filePath, mimetype}], sharees?[{isOwner, type, email}],
//    userEditedTimestampUsec, createdTimestampUsec?}
//
// Each file becomes one ItemRecord of kind `note`:
//   occurredAt  createdTimestampUsec (older exports lack it: userEditedTimestampUsec), all six
//               fraction digits kept (occurredAtMicros)
//   title       title (null when empty)
//   text        textContent, or for a checklist its items as lines "[x] done" / "[ ] to do"
//   url         the first annotation's URL (a link the note was made from)
//   attributes  color, isPinned, isArchived, isTrashed, labels (names), listItems [{text, checked}],
//               annotations, attachments (file names inside the export), sharees, editedAt,
//               and any other member except textContentHtml (the same text as HTML)
//   key         ['keep', createdTimestampUsec], or ['keep', 'edited', userEditedTimestampUsec,
//               title] without a creation time
// Notes are small, but the file is still read as a stream with a hard cap (MAX_NOTE_BYTES): a
// larger file is rejected as `too_large` without being held in memory.
import type { ParseEvent } from '../../records.js';
import { defineSource, type Source } from '../../source.js';
import { KEEP } from './entries.js';
import { emit, parseJsonSource, rejectValue } from './json-source.js';
import { arrayOf, instantFromEpochMicros, isObject, stringOf } from './takeout-values.js';

export const KEEP_SOURCE_ID = KEEP.id;
/** Keep caps a note at about 20,000 characters; 16 MiB leaves room for any list or markup. */
export const MAX_NOTE_BYTES = 16 * 1024 * 1024;

const MAPPED = new Set(['title', 'textContent', 'textContentHtml', 'listContent', 'labels', 'createdTimestampUsec', 'userEditedTimestampUsec']);

function noteFromObject(value: unknown, offset: number): ParseEvent {
  if (!isObject(value)) return rejectValue('invalid', 'a Keep note file that does not hold an object', offset, value);
  const created = instantFromEpochMicros(value.createdTimestampUsec);
  const edited = instantFromEpochMicros(value.userEditedTimestampUsec);
  const occurred = created ?? edited;
  if (!occurred) return rejectValue('invalid', 'Keep note without a readable createdTimestampUsec or userEditedTimestampUsec', offset, value);
  const title = stringOf(value.title) || null;
  const listItems = arrayOf(value.listContent)
    .filter(isObject)
    .map((item) => ({ text: stringOf(item.text) ?? '', checked: item.isChecked === true }));
  const text = stringOf(value.textContent) || (listItems.length > 0 ? listItems.map((item) => `${item.checked ? '[x]' : '[ ]'} ${item.text}`).join('\n') : null);
  const attributes: Record<string, unknown> = {};
  for (const key in value) if (!MAPPED.has(key)) attributes[key] = value[key];
  if (listItems.length > 0) attributes.listItems = listItems;
  const labels = arrayOf(value.labels)
    .map((label) => (isObject(label) ? stringOf(label.name) : null))
    .filter((name): name is string => name !== null);
  if (labels.length > 0) attributes.labels = labels;
  if (edited) attributes.editedAt = isoWithMicros(edited);
  const firstAnnotation = arrayOf(value.annotations).find(isObject);
  const key = created !== null ? ['keep', value.createdTimestampUsec as number | string] : ['keep', 'edited', value.userEditedTimestampUsec as number | string, title];
  return emit(
    {
      type: 'item',
      source: KEEP_SOURCE_ID,
      key,
      kind: 'note',
      occurredAt: occurred.date,
      occurredAtMicros: occurred.micros,
      // A note edited since an earlier export replaces the stored one (same key: its creation time).
      // Milliseconds, as rows stored before microseconds were kept carry them.
      revision: edited ? edited.date.getTime() : null,
      utcOffsetMinutes: null,
      title,
      text,
      url: firstAnnotation ? stringOf(firstAnnotation.url) : null,
      attributes,
    },
    offset,
  );
}

/** `2021-03-31T09:12:00.212223Z`: an ISO instant with all six fraction digits. */
function isoWithMicros(instant: { date: Date; micros: number }): string {
  return `${instant.date.toISOString().slice(0, -1)}${String(instant.micros).padStart(3, '0')}Z`;
}

export const keepSource: Source = defineSource(KEEP, {
  parse(input, context) {
    return parseJsonSource(input, context, {
      targets: [{ path: [], mode: 'value' }],
      expected: 'Keep note object',
      maxElementBytes: MAX_NOTE_BYTES,
      onElement: (value, at, out) => out.push(noteFromObject(value, at.offset)),
    });
  },
});
