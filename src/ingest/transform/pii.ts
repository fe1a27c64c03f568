// Personal data found in text: e-mail addresses, phone numbers, payment card numbers (Luhn) and
// IBANs (mod 97). Counts per kind and where the first few are; the text itself is neither changed
// nor copied into the result, so a report can be shown or logged without repeating what it found.
//
// Precision over recall: each kind is checked beyond its shape (card: issuer prefix and Luhn; IBAN:
// the country's length and mod 97; phone: an international prefix or a national layout), because a
// scan that flags every long number is ignored. A span claimed by one kind is not counted again as
// another (the digits of an IBAN or a card are not also a phone number).

export const PII_KINDS = ['email', 'phone', 'payment_card', 'iban'] as const;
export type PiiKind = (typeof PII_KINDS)[number];

export interface PiiSpan {
  kind: PiiKind;
  /** UTF-16 offsets into the scanned text, end exclusive: `text.slice(start, end)`. */
  start: number;
  end: number;
}

export interface PiiReport {
  counts: Record<PiiKind, number>;
  /** Up to `samplesPerKind` spans of each kind, in text order. */
  samples: PiiSpan[];
}

export interface PiiScanOptions {
  samplesPerKind?: number;
}

/** Detect personal data in `text`. Nothing is removed. */
export function scanPii(text: string, options: PiiScanOptions = {}): PiiReport {
  const samplesPerKind = options.samplesPerKind ?? 5;
  const claimed: PiiSpan[] = [];
  // Most specific first: IBANs and cards contain digit runs that would otherwise read as phones.
  for (const detect of [findIbans, findPaymentCards, findEmails, findPhones]) {
    for (const span of detect(text)) {
      if (!claimed.some((c) => span.start < c.end && c.start < span.end)) claimed.push(span);
    }
  }
  claimed.sort((a, b) => a.start - b.start);
  const counts = Object.fromEntries(PII_KINDS.map((kind) => [kind, 0])) as Record<PiiKind, number>;
  const samples: PiiSpan[] = [];
  for (const span of claimed) {
    counts[span.kind] += 1;
    if (counts[span.kind] <= samplesPerKind) samples.push(span);
  }
  return { counts, samples };
}

// ---------------------------------------------------------------------------------------------
// E-mail: a dot-atom local part (RFC 5322 without quoted strings), a domain of letter-digit labels
// and a top-level domain of at least two letters. Unicode letters are allowed (internationalised
// addresses); `user@localhost` and `a..b@x.org` are not addresses someone writes to.

// The local part is at most 64 characters (RFC 5321) and the pattern says so: with unbounded runs,
// a long run of local-part characters without an `@` (`}}}}…` in a document) was retried from each
// of its positions, in time quadratic in the run's length.
const EMAIL = /(?<![\p{L}\p{N}._%+-])[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-](?:[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]|\.(?=[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-])){0,63}@(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+\p{L}{2,63}(?![\p{L}\p{N}-]|\.[\p{L}\p{N}])/gu;

function* findEmails(text: string): Generator<PiiSpan> {
  for (const match of text.matchAll(EMAIL)) {
    if (match[0].split('@')[0]!.length > 64) continue;
    yield { kind: 'email', start: match.index!, end: match.index! + match[0].length };
  }
}

// ---------------------------------------------------------------------------------------------
// Phone numbers, in three shapes:
//   international: `+` or `00`, a country code, then digit groups: 8 to 15 digits (E.164);
//   North American: (415) 555-2671, 415-555-2671, 415.555.2671, 415 555 2671;
//   national with a trunk 0: 030 1234567, 0151/12345678, 06 12 34 56 78, 020 7946 0958: 10 to 12
//   digits, as one run or in groups with one kind of separator.
// Not: dates (2024-03-10, 01.02.2024 10:30), times, prices, or unformatted runs starting with 1-9.

const INTERNATIONAL_PHONE = /(?<![\p{L}\p{N}+])(?:\+|00)[1-9]\d{0,3}(?:[ .\-/]?(?:\(\d{1,4}\)|\d{1,5})){1,6}(?![\p{L}\p{N}])/gu;
const NANP_PHONE = /(?<![\p{L}\p{N}+\-.])(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[-. ])[2-9]\d{2}[-. ]\d{4}(?![\p{L}\p{N}]|[-.]\d)/gu;
const TRUNK_PHONE = /(?<![\p{L}\p{N}+\-./])0[1-9]\d{0,4}(?:[ \-/.]?\d{2,8}){1,4}(?![\p{L}\p{N}])/gu;

function* findPhones(text: string): Generator<PiiSpan> {
  yield* findCandidates(text, INTERNATIONAL_PHONE, 'phone', (written) => {
    const digits = countDigits(written) - (written.startsWith('00') ? 2 : 0);
    return digits >= 8 && digits <= 15;
  });
  yield* findCandidates(text, NANP_PHONE, 'phone', () => true);
  yield* findCandidates(text, TRUNK_PHONE, 'phone', (written) => {
    const digits = countDigits(written);
    return digits >= 10 && digits <= 12 && separatorKinds(written) <= 1;
  });
}

// ---------------------------------------------------------------------------------------------
// Payment cards: 13 to 19 digits, as one run or in groups separated by one kind of separator
// (space or hyphen), with the prefix of a card network and a valid Luhn check digit. The prefix
// test keeps out runs such as 0000 0000 0000 0000, which pass Luhn.

const CARD_CANDIDATE = /(?<![\p{L}\p{N}.,+-])\d(?:[ -]?\d){11,18}(?![\p{L}\p{N}])/gu;

/** Issuer prefixes of the major networks (ISO/IEC 7812 IIN ranges), with their lengths. */
const CARD_NETWORKS: { prefix: RegExp; lengths: number[] }[] = [
  { prefix: /^4/, lengths: [13, 16, 19] }, // Visa
  { prefix: /^(5[1-5]|222[1-9]|22[3-9]\d|2[3-6]\d\d|27[01]\d|2720)/, lengths: [16] }, // Mastercard
  { prefix: /^3[47]/, lengths: [15] }, // American Express
  { prefix: /^(6011|64[4-9]|65)/, lengths: [16, 19] }, // Discover
  { prefix: /^35(2[89]|[3-8]\d)/, lengths: [16, 17, 18, 19] }, // JCB
  { prefix: /^(30[0-5]|3095|36|3[89])/, lengths: [14, 16, 19] }, // Diners Club
  { prefix: /^62/, lengths: [16, 17, 18, 19] }, // UnionPay
  { prefix: /^(5018|5020|5038|5893|6304|67\d\d)/, lengths: [12, 13, 14, 15, 16, 17, 18, 19] }, // Maestro
];

function* findPaymentCards(text: string): Generator<PiiSpan> {
  yield* findCandidates(text, CARD_CANDIDATE, 'payment_card', (written) => {
    return separatorKinds(written) <= 1 && isPaymentCardNumber(written.replace(/\D/g, ''));
  });
}

/** A card number (digits only): a network's prefix and length, and a valid Luhn check digit. */
export function isPaymentCardNumber(digits: string): boolean {
  if (!/^\d{12,19}$/.test(digits)) return false;
  if (!CARD_NETWORKS.some((n) => n.prefix.test(digits) && n.lengths.includes(digits.length))) return false;
  return luhnValid(digits);
}

/** The Luhn (mod 10) check: every second digit from the right doubled, digit sum divisible by 10. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

// ---------------------------------------------------------------------------------------------
// Shared by phones and cards: a candidate regular expression is greedy, so it can run on into a
// following number ("4111 1111 1111 1111 123", "030 1234567 2024"). Each candidate is tried
// whole, then cut back group by group, and the longest valid prefix is taken.

function* findCandidates(text: string, pattern: RegExp, kind: PiiKind, valid: (written: string) => boolean): Generator<PiiSpan> {
  const regex = new RegExp(pattern.source, pattern.flags);
  for (let match = regex.exec(text); match; match = regex.exec(text)) {
    const start = match.index;
    const found = groupPrefixes(match[0]).find(valid);
    if (found) {
      yield { kind, start, end: start + found.length };
      regex.lastIndex = start + found.length;
    } else {
      regex.lastIndex = start + 1;
    }
  }
}

const GROUP_SEPARATORS = ' .-/';

/** The candidate, then each shorter prefix that ends before a separator. */
function groupPrefixes(candidate: string): string[] {
  const prefixes = [candidate];
  for (let i = candidate.length - 1; i > 0; i--) {
    if (GROUP_SEPARATORS.includes(candidate[i]!) && !GROUP_SEPARATORS.includes(candidate[i - 1]!)) prefixes.push(candidate.slice(0, i));
  }
  return prefixes;
}

function separatorKinds(written: string): number {
  return new Set(written.replace(/[\d()]/g, '')).size;
}

function countDigits(value: string): number {
  let digits = 0;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code >= 48 && code <= 57) digits += 1;
  }
  return digits;
}

// ---------------------------------------------------------------------------------------------
// IBAN (ISO 13616): country code, two check digits, then the national account number; written as
// one run or in groups of four separated by single spaces. Valid when its length is the one
// registered for the country and the number is 1 mod 97. Upper case only, as printed.

/** IBAN lengths per country, from the SWIFT IBAN registry. */
const IBAN_LENGTHS: Record<string, number> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29, BY: 28, CH: 21,
  CR: 22, CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FK: 18, FO: 18,
  FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HN: 28, HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23,
  IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20, LV: 21, LY: 25, MC: 27,
  MD: 24, ME: 22, MK: 19, MN: 20, MR: 27, MT: 31, MU: 30, NI: 28, NL: 18, NO: 15, OM: 23, PK: 24, PL: 28,
  PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, RU: 33, SA: 24, SC: 31, SD: 18, SE: 24, SI: 19, SK: 24, SM: 27,
  SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29, VA: 22, VG: 24, XK: 20, YE: 30,
};

const IBAN_CANDIDATE = /(?<![\p{L}\p{N}])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}/gu;

function* findIbans(text: string): Generator<PiiSpan> {
  const regex = new RegExp(IBAN_CANDIDATE.source, IBAN_CANDIDATE.flags);
  for (let match = regex.exec(text); match; match = regex.exec(text)) {
    const start = match.index;
    const end = start + ibanExtent(match[0]);
    if (end > start && !isAlphanumeric(text.charCodeAt(end)) && isIban(text.slice(start, end).replace(/ /g, ''))) {
      yield { kind: 'iban', start, end };
      regex.lastIndex = end;
    } else {
      // The candidate may have swallowed the start of the next IBAN: look again one character on.
      regex.lastIndex = start + 1;
    }
  }
}

/** How much of a candidate its country's IBAN length covers (spaces included); 0 if too short. */
function ibanExtent(candidate: string): number {
  const length = IBAN_LENGTHS[candidate.slice(0, 2)];
  if (!length) return 0;
  let characters = 0;
  for (let i = 0; i < candidate.length; i++) {
    if (candidate[i] !== ' ') characters += 1;
    if (characters === length) return i + 1;
  }
  return 0;
}

/** An IBAN without spaces: its country's length, and 1 when read as a number mod 97. */
export function isIban(iban: string): boolean {
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(iban) || IBAN_LENGTHS[iban.slice(0, 2)] !== iban.length) return false;
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (const char of rearranged) {
    // Letters count as two digits: A = 10 ... Z = 35.
    const value = char >= 'A' ? char.charCodeAt(0) - 55 : char.charCodeAt(0) - 48;
    remainder = (value > 9 ? remainder * 100 + value : remainder * 10 + value) % 97;
  }
  return remainder === 1;
}

function isAlphanumeric(code: number): boolean {
  return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}
