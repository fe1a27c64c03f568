// Text normalization applied to every record a parser emits, before validation and loading:
// - NUL (U+0000) is removed, since PostgreSQL `text` and `jsonb` cannot hold it (bad-inputs P4);
//   counted in `RepairCounts.nulCharacters`.
// - Lone UTF-16 surrogates (JSON `\ud800` escapes, bad-inputs P5) become U+FFFD; counted in
//   `RepairCounts.invalidUtf8`, because they cannot be encoded as UTF-8 either.
// - Everything is NFC-normalized so the same text always compares, indexes and hashes the same.
//
// Covered: every top-level string field of a record (title, text, url, name, address, kind...),
// the strings of the natural key (cleaned but not counted: they repeat the fields' values), and,
// recursively with keys included down to MAX_ATTRIBUTE_DEPTH levels, every top-level plain object
// and array: `attributes`, a contact's `structuredName`, a document's `metadata` and `pii`, a
// message's to, cc, labels and attachments, a contact's emails, phones, addresses, an event's
// attendees. Deeper values are replaced by
// null: no real export nests that far, and an unbounded walk of hostile input could
// overflow the stack. Dates, numbers and non-plain objects are left alone.
//
// Records are changed in place: the pipeline owns what a parser yields. Strings are replaced only
// when they change, and a string whose characters are all below U+0300 (ASCII, Latin-1, Latin
// Extended, IPA) skips all work after one regular-expression test: none of those characters is
// NUL (tested separately), a surrogate, or changed by NFC.
import type { LakeRecord, NaturalKey, RepairCounts } from '../records.js';

/** Nesting levels of `attributes` that are normalized; values below are replaced by null. */
export const MAX_ATTRIBUTE_DEPTH = 32;

/** A character that may need work: NUL, or anything from U+0300 (combining marks) upwards. */
const MAY_NEED_WORK = /[\u0000\u0300-\uffff]/;
const NUL_OR_SURROGATE = /[\u0000\ud800-\udfff]/;

/** Returns `text` NFC-normalized, without NUL and with lone surrogates replaced by U+FFFD. */
export function normalizeText(text: string, repairs: RepairCounts | null): string {
  if (!MAY_NEED_WORK.test(text)) return text;
  const repaired = NUL_OR_SURROGATE.test(text) ? repairNulAndSurrogates(text, repairs) : text;
  return repaired.normalize('NFC');
}

function repairNulAndSurrogates(text: string, repairs: RepairCounts | null): string {
  let out = '';
  let runStart = 0;
  let nulCharacters = 0;
  let loneSurrogates = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0) {
      out += text.slice(runStart, i);
      runStart = i + 1;
      nulCharacters++;
    } else if (code >= 0xd800 && code <= 0xdfff) {
      const next = text.charCodeAt(i + 1); // NaN past the end
      if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        i++; // a valid pair
        continue;
      }
      out += `${text.slice(runStart, i)}\ufffd`;
      runStart = i + 1;
      loneSurrogates++;
    }
  }
  if (nulCharacters === 0 && loneSurrogates === 0) return text;
  if (repairs) {
    repairs.nulCharacters += nulCharacters;
    repairs.invalidUtf8 += loneSurrogates;
  }
  return out + text.slice(runStart);
}

/** Normalizes the record's strings in place (see the module comment) and returns it. */
export function normalizeRecord<T extends LakeRecord>(record: T, repairs: RepairCounts): T {
  const fields = record as unknown as Record<string, unknown>;
  // for...in, not Object.keys: no array of names per record (this runs for every record), and only values change here.
  for (const name in fields) {
    const value = fields[name];
    if (typeof value === 'string') {
      const normalized = normalizeText(value, repairs);
      if (normalized !== value) fields[name] = normalized;
    } else if (name === 'key') {
      const key = normalizeKey(value as NaturalKey);
      if (key !== value) fields[name] = key;
    } else if (value !== null && typeof value === 'object') {
      normalizeNested(value, 1, repairs); // arrays and plain objects; a Date is left alone
    }
  }
  return record;
}

function normalizeKey(key: NaturalKey): NaturalKey {
  let copy: Array<string | number | boolean | null> | null = null;
  for (let i = 0; i < key.length; i++) {
    const part = key[i];
    if (typeof part !== 'string') continue;
    const normalized = normalizeText(part, null);
    if (normalized === part) continue;
    copy ??= [...key];
    copy[i] = normalized;
  }
  return copy ?? key;
}

function normalizeValue(value: unknown, depth: number, repairs: RepairCounts): unknown {
  if (typeof value === 'string') return normalizeText(value, repairs);
  if (value === null || typeof value !== 'object') return value;
  if (depth > MAX_ATTRIBUTE_DEPTH) return null;
  normalizeNested(value, depth, repairs);
  return value;
}

function normalizeNested(container: object, depth: number, repairs: RepairCounts): void {
  if (Array.isArray(container)) {
    for (let i = 0; i < container.length; i++) {
      const item: unknown = container[i];
      const normalized = normalizeValue(item, depth + 1, repairs);
      if (normalized !== item) container[i] = normalized;
    }
    return;
  }
  if (!isPlainObject(container)) return;
  const object = container as Record<string, unknown>;
  for (const key of Object.keys(object)) {
    const item = object[key];
    const normalized = normalizeValue(item, depth + 1, repairs);
    const normalizedKey = normalizeText(key, repairs);
    if (normalizedKey !== key) {
      delete object[key];
      object[normalizedKey] = normalized;
    } else if (normalized !== item) {
      object[key] = normalized;
    }
  }
}

function isPlainObject(value: object): boolean {
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
