// Writes a synthetic Gmail Takeout mbox of about the requested size, the same bytes for the same
// arguments (a seeded generator, no clock): Takeout separator lines, X-GM-THRID and
// X-Gmail-Labels (quoted labels with commas), RFC 2047 headers in UTF-8 / ISO-8859-1 /
// Shift_JIS, plain, alternative (plain + HTML), HTML-only and mixed messages with base64
// attachments, quoted-printable bodies, and body lines that need mboxrd `>From` quoting.
//
//   node --import tsx bench/gen-mbox.ts --mb 500 --out /tmp/x.mbox [--crlf] [--seed 1]
//
// Mix (by count): 35 % plain, 30 % alternative, 15 % HTML only, 20 % with one or two attachments
// of 4-200 KiB; messages average about 45 KB, so 500 MB is about 11,000 messages.
import { closeSync, openSync, writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { makeRandom } from './support/random.js';

const { values } = parseArgs({
  options: {
    mb: { type: 'string', default: '100' },
    out: { type: 'string' },
    crlf: { type: 'boolean', default: false },
    seed: { type: 'string', default: '1' },
  },
});
if (!values.out) {
  console.error('usage: gen-mbox.ts --mb <megabytes> --out <file.mbox> [--crlf] [--seed <n>]');
  process.exit(2);
}
const targetBytes = Number(values.mb) * 1e6;
const eol = values.crlf ? '\r\n' : '\n';

const random = makeRandom(Number(values.seed));
const between = (min: number, max: number): number => min + Math.floor(random() * (max - min + 1));
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an they you were ' +
  'meeting invoice project report schedule tomorrow weekend flight hotel family photos garden dinner budget review ' +
  'café naïve über straße déjà résumé København Zürich São Paulo'
).split(' ');
const JAPANESE = ['会議', '明日', '報告書', '予定', '写真', '家族', '旅行', 'ありがとう', 'よろしく'];
const NAMES = ['Alice Martin', 'Bob Dupont', 'Chloé Lefèvre', 'Jürgen Müller', '山田 太郎', 'Sam O\'Neil', 'Zoë Ångström', 'Li Wei'];
const LABELS = ['Inbox', 'Important', 'Opened', 'Archived', 'Category Updates', 'Category Social', '"Work, 2021"', 'Receipts', 'Sent', 'Starred'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const sjis = new TextDecoder('shift_jis'); // only to check that the table has the characters

function sentence(): string {
  const words = Array.from({ length: between(6, 18) }, () => pick(WORDS));
  const text = words.join(' ');
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
}

function paragraph(): string {
  return Array.from({ length: between(2, 6) }, sentence).join(' ');
}

/** Wraps text at 76 columns, as mail writers do. */
function wrap(text: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line.length + word.length + 1 > 76 && line !== '') {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines;
}

function quotedPrintable(text: string): string[] {
  const out: string[] = [];
  for (const line of wrap(text)) {
    let encoded = '';
    for (const byte of Buffer.from(line, 'utf8')) {
      encoded += byte === 0x3d || byte > 0x7e ? `=${byte.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(byte);
    }
    // Soft line breaks keep encoded lines within 76 characters.
    while (encoded.length > 75) {
      let cut = 75;
      while (encoded[cut - 1] === '=' || encoded[cut - 2] === '=') cut--;
      out.push(`${encoded.slice(0, cut)}=`);
      encoded = encoded.slice(cut);
    }
    out.push(encoded);
  }
  return out;
}

function base64Lines(bytes: Buffer): string[] {
  const encoded = bytes.toString('base64');
  const lines: string[] = [];
  for (let at = 0; at < encoded.length; at += 76) lines.push(encoded.slice(at, at + 76));
  return lines;
}

function encodedWord(text: string): string {
  const choice = random();
  if (choice < 0.5 || !/[^\x20-\x7e]/.test(text)) {
    if (!/[^\x20-\x7e]/.test(text)) return text;
    return `=?UTF-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=`;
  }
  if (/^[\x00-\xff]*$/.test(text)) {
    const q = [...Buffer.from(text, 'latin1')].map((b) => (b === 0x20 ? '_' : b > 0x7e || b === 0x3d || b === 0x3f || b === 0x5f ? `=${b.toString(16).toUpperCase()}` : String.fromCharCode(b))).join('');
    return `=?ISO-8859-1?Q?${q}?=`;
  }
  return `=?UTF-8?Q?${[...Buffer.from(text, 'utf8')].map((b) => (b === 0x20 ? '_' : b > 0x7e || b === 0x3d || b === 0x3f || b === 0x5f ? `=${b.toString(16).toUpperCase()}` : String.fromCharCode(b))).join('')}?=`;
}

/** A Shift_JIS encoded word, built from a fixed table (TextEncoder only writes UTF-8). */
const SHIFT_JIS_SUBJECTS: ReadonlyArray<readonly [string, string]> = [
  ['会議', '89ef8b63'],
  ['明日の予定', '96be93fa82cc975c92e8'],
  ['ありがとう', '82a082e882aa82c682a4'],
];
for (const [text, hex] of SHIFT_JIS_SUBJECTS) {
  if (sjis.decode(Buffer.from(hex, 'hex')) !== text) throw new Error(`Shift_JIS table is wrong for ${text}`);
}

function address(name: string, n: number): string {
  const local = name.normalize('NFD').replace(/[^\x20-\x7e]/g, '').toLowerCase().replace(/[^a-z]+/g, '.').replace(/^\.|\.$/g, '') || `user${n}`;
  return `${encodedWord(name)} <${local}@example.org>`;
}

function asctime(date: Date): string {
  const day = String(date.getUTCDate()).padStart(2, '0');
  const time = date.toISOString().slice(11, 19);
  return `${DAYS[date.getUTCDay()]} ${MONTHS[date.getUTCMonth()]} ${day} ${time} +0000 ${date.getUTCFullYear()}`;
}

function rfc5322(date: Date): string {
  const offset = pick([0, 60, 120, -300, -420, 540]);
  const local = new Date(date.getTime() + offset * 60_000);
  const sign = offset < 0 ? '-' : '+';
  const zone = `${sign}${String(Math.floor(Math.abs(offset) / 60)).padStart(2, '0')}${String(Math.abs(offset) % 60).padStart(2, '0')}`;
  return `${DAYS[local.getUTCDay()]}, ${local.getUTCDate()} ${MONTHS[local.getUTCMonth()]} ${local.getUTCFullYear()} ${local.toISOString().slice(11, 19)} ${zone}`;
}

/** Plain body lines, some of which start with `From ` or `>From ` and get mboxrd quoting. */
function plainLines(): string[] {
  const lines: string[] = [];
  for (let p = between(1, 6); p > 0; p--) {
    lines.push(...wrap(paragraph()), '');
    if (random() < 0.1) lines.push('From what I remember, the files are on the shared drive.');
    if (random() < 0.05) lines.push('>From the earlier thread: yes.');
    if (random() < 0.2) lines.push(...wrap(paragraph()).map((line) => `> ${line}`), '');
  }
  return lines;
}

function htmlBody(): string {
  const paragraphs = Array.from({ length: between(2, 8) }, () => `<p>${paragraph()}</p>`).join('\n');
  const table = `<table><tr><td>Total</td><td>${between(1, 999)}.00 €</td></tr></table>`;
  return `<!DOCTYPE html><html><head><style>p{margin:0}</style></head><body>\n${paragraphs}\n${table}\n<p><a href="https://example.org/t/${between(1, 1e9)}">Unsubscribe</a></p>\n</body></html>`;
}

function message(n: number): string[] {
  const thread = (1545668983435175434n + BigInt(n) * 7919n).toString();
  const sent = new Date(Date.UTC(2012, 0, 1) + Math.floor(random() * 12 * 365.25 * 86_400_000) / 1000 * 1000);
  const from = pick(NAMES);
  const to = Array.from({ length: between(1, 3) }, (_, i) => address(pick(NAMES), n * 10 + i));
  const labels = Array.from(new Set(Array.from({ length: between(1, 4) }, () => pick(LABELS))));
  let subject: string;
  if (random() < 0.1) {
    const [, hex] = pick(SHIFT_JIS_SUBJECTS);
    subject = `=?Shift_JIS?B?${Buffer.from(hex, 'hex').toString('base64')}?=`;
  } else if (random() < 0.1) subject = encodedWord(`${pick(JAPANESE)} ${pick(JAPANESE)}`);
  else subject = encodedWord(sentence().slice(0, 60));
  const headers = [
    `X-GM-THRID: ${thread}`,
    `X-Gmail-Labels: ${labels.join(',')}`,
    'Delivered-To: me@example.com',
    `Received: by 2002:a05:6a10:${n.toString(16)} with SMTP id x${n};${eol}        ${rfc5322(sent)}`,
    'MIME-Version: 1.0',
    `Date: ${rfc5322(sent)}`,
    `From: ${address(from, n)}`,
    `To: ${to.join(`,${eol} `)}`,
    ...(random() < 0.3 ? [`Cc: ${address(pick(NAMES), n + 1)}`] : []),
    `Subject: ${subject}`,
    `Message-ID: <msg${n}.${thread}@mail.example.org>`,
    ...(random() < 0.4 && n > 0 ? [`In-Reply-To: <msg${n - 1}.${thread}@mail.example.org>`] : []),
  ];
  const kind = random();
  const boundary = `000000000000${n.toString(16).padStart(8, '0')}05e8`;
  let body: string[];
  if (kind < 0.35) {
    headers.push('Content-Type: text/plain; charset="UTF-8"', 'Content-Transfer-Encoding: 8bit');
    body = plainLines();
  } else if (kind < 0.65) {
    headers.push(`Content-Type: multipart/alternative; boundary="${boundary}"`);
    body = [
      `--${boundary}`, 'Content-Type: text/plain; charset="UTF-8"', 'Content-Transfer-Encoding: quoted-printable', '',
      ...quotedPrintable(paragraph()), '',
      `--${boundary}`, 'Content-Type: text/html; charset="UTF-8"', 'Content-Transfer-Encoding: quoted-printable', '',
      ...quotedPrintable(htmlBody()), '',
      `--${boundary}--`,
    ];
  } else if (kind < 0.8) {
    headers.push('Content-Type: text/html; charset="UTF-8"', 'Content-Transfer-Encoding: quoted-printable');
    body = quotedPrintable(htmlBody());
  } else {
    headers.push(`Content-Type: multipart/mixed; boundary="${boundary}"`);
    body = [`--${boundary}`, 'Content-Type: text/plain; charset="UTF-8"', '', ...plainLines(), ''];
    for (let a = between(1, 2); a > 0; a--) {
      const size = between(4, 200) * 1024;
      const bytes = Buffer.alloc(size);
      for (let i = 0; i < size; i += 4) bytes.writeUInt32LE(Math.floor(random() * 4294967296), i);
      const name = pick(['report.pdf', 'photo.jpg', 'Übersicht.xlsx', '写真.png']);
      const encodedName = /[^\x20-\x7e]/.test(name) ? `=?UTF-8?B?${Buffer.from(name).toString('base64')}?=` : name;
      body.push(
        `--${boundary}`,
        `Content-Type: application/octet-stream; name="${encodedName}"`,
        `Content-Disposition: attachment; filename="${encodedName}"`,
        'Content-Transfer-Encoding: base64',
        '',
        ...base64Lines(bytes),
        '',
      );
    }
    body.push(`--${boundary}--`);
  }
  // mboxrd: every line that is `>`s then `From ` gets one more `>`.
  const quoted = body.map((line) => (/^>*From /.test(line) ? `>${line}` : line));
  return [`From ${thread}@xxx ${asctime(sent)}`, ...headers, '', ...quoted, ''];
}

const fd = openSync(values.out, 'w');
let written = 0;
let messages = 0;
let pending: string[] = [];
let pendingBytes = 0;
const flush = (): void => {
  const bytes = Buffer.from(pending.join(''), 'utf8');
  writeSync(fd, bytes);
  written += bytes.length;
  pending = [];
  pendingBytes = 0;
};
while (written + pendingBytes < targetBytes) {
  const text = message(messages++).join(eol) + eol;
  pending.push(text);
  pendingBytes += text.length;
  if (pendingBytes > 4_000_000) flush();
}
flush();
closeSync(fd);
console.log(`${values.out}: ${messages} messages, ${written} bytes`);
