// Language tagging of item and document records: an ISO 639-1 code (a valid BCP 47 tag: `en`,
// `fr`, `de`...) for the title and text, or null when there is too little text to tell.
//
// Library: eld ("Efficient Language Detector", Apache-2.0, 60 languages), its `extrasmall`
// n-gram table, chosen over tinyld, tinyld/light and franc-min (which gives ISO 639-3 codes) on
// hand-written sentences in 9 languages: as accurate or more, and several times faster at every
// text length. Its cost is memory (tens of megabytes of heap for the table), paid once per
// process when this module is first imported.
//
// Cost per record: nothing for non-item records, items that already carry a language, or items
// whose title+text has fewer than MIN_LETTER_WEIGHT letters (most search queries); otherwise one
// detection on at most MAX_SAMPLE_CHARS characters, or one map lookup when the same text was seen
// recently (watch histories and searches repeat a lot; RECENT_TEXTS bounds what is remembered).
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
