// Language tagging of item and document records: an ISO 639-1 code (a valid BCP 47 tag: `en`,
// `fr`, `de`...) for the title and text, or null when there is too little text to tell.
//
// Library: eld ("Efficient Language Detector", Apache-2.0, 60 languages), its `extrasmall`
// n-gram table. Measured on this machine (Node 20, 45 hand-written sentences in 9 languages, and
// 30,000 calls per text length):
//   eld/extrasmall  45/45 right   4 µs (20 chars) / 12 µs (90) / 23 µs (1,000)   heap +29 MB, load 0.1 s
//   tinyld          45/45 right  32 µs / 61 µs / 145 µs                         heap +8 MB
//   tinyld/light    43/45 right  19 µs / 35 µs / 94 µs                          heap +1 MB
//   franc-min       41/45 right  24 µs / 85 µs / 137 µs (ISO 639-3 codes)       heap +1 MB
// eld is 5-8x faster than the others at equal or better accuracy; its cost is memory (about
// 29 MB of heap for the table), paid once per process when this module is first imported.
//
// Cost per record: nothing for non-item records, items that already carry a language, or items
// whose title+text has fewer than MIN_LETTER_WEIGHT letters (most search queries); otherwise one
// detection on at most MAX_SAMPLE_CHARS characters, about 4 µs for 20 characters and 10-15 µs for
// a 60-250 character title or paragraph, or one map lookup when the same text was seen recently
// (watch histories and searches repeat a lot; RECENT_TEXTS bounds what is remembered).
// bench/normalize.ts measures it on distinct texts (no cache help), the worst case.
import { eld } from 'eld/extrasmall';
import type { LakeRecord } from '../records.js';

/**
 * Minimum letters before a guess is made. Below about 16 letters ("iPhone 15 Pro Max",
 * "Visited Google") detectors answer confidently and wrongly. Letters of scripts that write a
 * word in one or two characters (Han, kana, Hangul) count 3 each.
 */
export const MIN_LETTER_WEIGHT = 16;

/** Detection reads at most this much of title+text: enough for a stable answer, bounded cost. */
export const MAX_SAMPLE_CHARS = 256;

/** How many recent texts and their answers are remembered (the map is emptied when full). */
export const RECENT_TEXTS = 10_000;
const recent = new Map<string, string | null>();

const URL_PATTERN = /\b(?:https?:\/\/|www\.)\S+/gi;

/** The language of `text` as an ISO 639-1 code, or null when too short or not reliable. */
export function detectLanguage(text: string): string | null {
  let sample = text.length > MAX_SAMPLE_CHARS ? cutAt(text, MAX_SAMPLE_CHARS) : text;
  // URLs are letters in no language and pull the guess toward whatever their n-grams resemble.
  if (sample.includes('://') || sample.includes('www.')) sample = sample.replace(URL_PATTERN, ' ');
  if (letterWeight(sample) < MIN_LETTER_WEIGHT) return null;
  const remembered = recent.get(sample);
  if (remembered !== undefined) return remembered;
  const result = eld.detect(sample);
  const language = result.language === '' || !result.isReliable() ? null : result.language;
  if (recent.size >= RECENT_TEXTS) recent.clear();
  recent.set(sample, language);
  return language;
}

/**
 * Sets `language` on an item (from its title and text) or a document (from its text) that has
 * none and enough text; other records are untouched.
 */
export function tagLanguage(record: LakeRecord): void {
  if ((record.type !== 'item' && record.type !== 'document') || record.language != null) return;
  const title = record.type === 'item' ? (record.title ?? '') : '';
  const text = record.text ?? '';
  if (title.length + text.length === 0) return;
  const language = detectLanguage(title.length > 0 && text.length > 0 ? `${title}\n${text}` : title || text);
  if (language !== null) record.language = language;
}

/** Cuts at `limit` UTF-16 units without splitting a surrogate pair. */
function cutAt(text: string, limit: number): string {
  const last = text.charCodeAt(limit - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? limit - 1 : limit);
}

function letterWeight(text: string): number {
  let weight = 0;
  for (let i = 0; i < text.length && weight < MIN_LETTER_WEIGHT; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) {
      if ((code | 0x20) >= 0x61 && (code | 0x20) <= 0x7a) weight++;
    } else if (
      (code >= 0x3040 && code <= 0x30ff) || // kana
      (code >= 0x3400 && code <= 0x9fff) || // Han
      (code >= 0xac00 && code <= 0xd7af) // Hangul syllables
    ) {
      weight += 3;
    } else if (code >= 0xc0 && code < 0x2000 && code !== 0xd7 && code !== 0xf7) {
      weight++; // Latin-1 letters up to the general punctuation block: Greek, Cyrillic, Arabic...
    } else if (code >= 0x2e80 && code < 0xd800) {
      weight++; // other East Asian and South-East Asian scripts
    }
  }
  return weight;
}
