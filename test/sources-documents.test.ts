// Documents and the catch-all (src/ingest/sources/documents/), parser level and through a real
// import on either backend: PDF and DOCX text, an encrypted and a broken PDF, CSV headers, JSON of
// any shape, text and binary files no other source reads, PII found in the text, the blob store
// holding every file byte for byte, importing twice adding nothing.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer as readAll } from 'node:stream/consumers';
import { after, before, describe, test } from 'node:test';
import type { DocumentRecord, ParseEvent } from '../src/ingest/records.js';
import { runImport } from '../src/ingest/runner.js';
import type { Source } from '../src/ingest/source.js';
import { detectSource, SOURCES } from '../src/ingest/sources/all.js';
import { csvSource, sniffDelimiter, standardizeHeaders } from '../src/ingest/sources/formats/documents/csv.js';
import { jsonSource } from '../src/ingest/sources/formats/documents/json.js';
import { createPdfSource, pdfSource } from '../src/ingest/sources/formats/documents/pdf.js';
import { docxSource } from '../src/ingest/sources/formats/documents/docx.js';
import { documentSources } from './support/source-groups.js';
import { writeYazl } from './support/archives.js';
import { cliTestLake, lakeImport, type CliTestLake } from './support/lake-cli.js';
import { createUser, openTestLake, type TestLake } from './support/lake.js';
import { loadConfig } from '../src/config/config.js';
import { Lake } from '../src/lake.js';
import { docxEntries, makePdf } from './fixtures/documents/make.js';

const FIXTURES = new URL('./fixtures/documents/', import.meta.url);
const read = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
/** An empty zip (its end-of-central-directory record alone): content no source reads. */
const EMPTY_ZIP = Buffer.concat([Buffer.from('PK\x05\x06', 'latin1'), Buffer.alloc(18)]);

// A card number that passes Luhn (a Visa test number), an IBAN that passes mod 97, an address;
// one page each (a line longer than the page is cut by pdf.js where the page ends).
const PII_PAGES = ['Pay with 4111 1111 1111 1111', 'or to DE89 3704 0044 0532 0130 00,', 'questions to jane.doe@example.org'];
const REPORT_PDF = makePdf(['Quarterly invoice for the lake house', ...PII_PAGES], { title: 'Invoice 2024', author: 'Jane Doe' });
const LOCKED_PDF = makePdf(['Secret salary figures'], { title: 'Locked', userPassword: 'secret' });

async function parseAll(source: Source, bytes: Buffer, filePath: string, chunkSize = 64 * 1024): Promise<ParseEvent[]> {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += chunkSize) chunks.push(bytes.subarray(at, at + chunkSize));
  const events: ParseEvent[] = [];
  for await (const event of source.parse(Readable.from(chunks), { path: filePath, repairs: { invalidUtf8: 0, nulCharacters: 0 }, blobs: null })) {
    events.push(event);
  }
  return events;
}

function documentOf(events: ParseEvent[]): DocumentRecord {
  const found = events.find((e) => e.kind === 'record' && e.record.type === 'document');
  assert.ok(found && found.kind === 'record', 'no document record');
  return found.record as DocumentRecord;
}

const rejectionsOf = (events: ParseEvent[]) => events.flatMap((e) => (e.kind === 'reject' ? [e.rejection] : []));

describe('document sources', () => {
  test('headers standardized: trimmed, NFC, lower snake_case, empty → column_N, repeats numbered', () => {
    assert.deepEqual(standardizeHeaders(['\uFEFF Full Name ', 'E-Mail Address', '', 'Full Name', 'Stra\u0073\u0073e / Nr.', '  ', 'full_name_2', 'Cafe\u0301']), [
      'full_name',
      'e_mail_address',
      'column_3',
      'full_name_2',
      'strasse_nr',
      'column_6',
      'full_name_2_2',
      'café',
    ]);
    assert.equal(standardizeHeaders(['Café'])[0], standardizeHeaders(['Cafe\u0301'])[0]); // NFC: one spelling
  });

  test('delimiter sniffed on the first line, quotes respected', () => {
    assert.equal(sniffDelimiter('a,b,c\n1,2,3'), ',');
    assert.equal(sniffDelimiter('a;b;c\n'), ';');
    assert.equal(sniffDelimiter('a\tb\tc'), '\t');
    assert.equal(sniffDelimiter('"x,y,z";b;c'), ';');
    assert.equal(sniffDelimiter('single'), ',');
  });

  test('detection: every dedicated source first, a name match too; documents only for the rest', () => {
    const probe = (p: string, head: Buffer | string) => ({ path: p, head: Buffer.from(head), size: head.length });
    // Content matches of dedicated sources are theirs.
    assert.equal(detectSource(probe('Takeout/Location History/Records.json', '{"locations": [{"latitudeE7": 1}]}'))?.id, 'google.location.records');
    // A dedicated source's name match beats the documents' content match (Takeout names first).
    const mboxNamed = detectSource(probe('Takeout/Mail/Inbox.mbox', 'not an mbox at all\n'));
    assert.equal(mboxNamed?.id, 'google.gmail.mbox');
    // Everything else: the documents, by content.
    assert.equal(detectSource(probe('x/report.bin', REPORT_PDF.subarray(0, 4096)))?.id, 'document.pdf');
    assert.equal(detectSource(probe('x/data.json', '{"anything": [1, 2]}'))?.id, 'document.json');
    assert.equal(detectSource(probe('x/table.csv', 'a,b\n1,2\n3,4\n'))?.id, 'document.csv');
    assert.equal(detectSource(probe('x/one-column.csv', 'name\nJane\nMax\n'))?.id, 'document.csv');
    assert.equal(detectSource(probe('x/notes.txt', 'Just some words.\n'))?.id, 'document.file');
    assert.equal(detectSource(probe('x/blob.bin', randomBytes(512)))?.id, 'document.file');
    // Content against name: a zip named .json is not JSON; the catch-all keeps it.
    assert.equal(detectSource(probe('Takeout/Records.json', EMPTY_ZIP), SOURCES, false)?.id, 'document.file');
    // Without the documents (a custom source list), nothing is found, as before.
    assert.equal(detectSource(probe('x/blob.bin', randomBytes(512)), SOURCES.filter((s) => !documentSources.includes(s))), null);
  });

  test('PDF: text of every page, info dictionary, page count, PII counted', async () => {
    const events = await parseAll(pdfSource, REPORT_PDF, 'Takeout/Drive/invoice.pdf', 1000);
    assert.deepEqual(rejectionsOf(events), []);
    const doc = documentOf(events);
    assert.equal(doc.kind, 'pdf');
    assert.equal(doc.extraction, 'text');
    assert.equal(doc.title, 'Invoice 2024');
    assert.equal(doc.text, ['Quarterly invoice for the lake house', ...PII_PAGES].join('\n\n'));
    assert.equal(doc.metadata.pages, 4);
    assert.equal(doc.metadata.pagesRead, 4);
    assert.deepEqual(doc.metadata.info, { Title: 'Invoice 2024', Author: 'Jane Doe', Producer: 'datapunk fixtures' });
    assert.deepEqual(doc.pii, { payment_card: 1, iban: 1, email: 1 });
    assert.equal(doc.sha256, sha256(REPORT_PDF));
    assert.equal(doc.size, REPORT_PDF.length);
    assert.equal(doc.mimeType, 'application/pdf');
  });

  test('a password-protected PDF: kept without text, quarantined as encrypted', async () => {
    const events = await parseAll(pdfSource, LOCKED_PDF, 'Takeout/Drive/locked.pdf');
    assert.deepEqual(rejectionsOf(events).map((r) => [r.category, r.reason]), [['encrypted', 'encrypted: text not extracted (the PDF needs a password)']]);
    const doc = documentOf(events);
    assert.equal(doc.extraction, 'encrypted');
    assert.equal(doc.text, null);
    assert.equal(doc.pii, null);
    assert.equal(doc.title, 'locked.pdf');
    assert.equal(doc.sha256, sha256(LOCKED_PDF));
  });

  test('the encrypted fixture is a real one: it opens with its password', async () => {
    const { getDocument } = await import('pdfjs-dist/legacy/build/pdf.mjs');
    const doc = await getDocument({ data: new Uint8Array(LOCKED_PDF), password: 'secret', verbosity: 0 }).promise;
    const page = await doc.getPage(1);
    const content = await page.getTextContent();
    assert.equal(content.items.map((item) => ('str' in item ? item.str : '')).join(''), 'Secret salary figures');
    await doc.destroy();
  });

  test('a broken PDF and one over the extraction bound are kept without text, with the reason', async () => {
    const broken = Buffer.concat([REPORT_PDF.subarray(0, 200), Buffer.from('\n%%EOF\n')]);
    const events = await parseAll(pdfSource, broken, 'x/broken.pdf');
    const [rejection] = rejectionsOf(events);
    assert.equal(rejection?.category, 'malformed');
    assert.match(rejection!.reason, /^malformed: text not extracted \(pdf\.js: /);
    assert.equal(documentOf(events).extraction, 'malformed');

    const big = await parseAll(createPdfSource({ maxExtractBytes: 1000 }), REPORT_PDF, 'x/big.pdf');
    assert.deepEqual(rejectionsOf(big), []);
    const doc = documentOf(big);
    assert.equal(doc.extraction, 'too_large');
    assert.equal(doc.text, null);
    assert.deepEqual(doc.attributes, { contentKept: false, note: 'text not extracted: larger than 1000 bytes' });
    assert.equal(doc.sha256, sha256(REPORT_PDF));
  });

  test('DOCX: paragraphs and core properties; a password-protected one (OLE container) is encrypted', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lake-docx-'));
    try {
      const file = path.join(dir, 'letter.docx');
      await writeYazl(file, docxEntries(['Dear Jane,', 'call me on +44 20 7946 0958.'], { title: 'Letter', creator: 'Max', created: '2023-05-01T10:00:00Z' }));
      const bytes = readFileSync(file);
      assert.equal(detectSource({ path: 'x/letter.docx', head: bytes.subarray(0, 65536), size: bytes.length })?.id, 'document.docx');
      const doc = documentOf(await parseAll(docxSource, bytes, 'x/letter.docx', 333));
      assert.equal(doc.kind, 'docx');
      assert.equal(doc.extraction, 'text');
      assert.equal(doc.title, 'Letter');
      assert.equal(doc.text, 'Dear Jane,\n\ncall me on +44 20 7946 0958.\n\n');
      assert.deepEqual(doc.metadata.core, { title: 'Letter', creator: 'Max', created: '2023-05-01T10:00:00Z' });
      assert.deepEqual(doc.pii, { phone: 1 });

      const ole = Buffer.concat([Buffer.from('d0cf11e0a1b11ae1', 'hex'), randomBytes(2000)]);
      assert.equal(detectSource({ path: 'x/locked.docx', head: ole, size: ole.length })?.id, 'document.docx');
      const locked = await parseAll(docxSource, ole, 'x/locked.docx');
      assert.equal(rejectionsOf(locked)[0]?.category, 'encrypted');
      assert.equal(documentOf(locked).extraction, 'encrypted');

      const notDocx = await parseAll(docxSource, Buffer.from('PK\x03\x04 this is no zip'), 'x/broken.docx');
      assert.equal(rejectionsOf(notDocx)[0]?.category, 'malformed');
      assert.equal(documentOf(notDocx).extraction, 'malformed');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('CSV: BOM dropped, semicolons sniffed, headers standardized, rows counted; same in 1-byte chunks', async () => {
    const bytes = read('messy-semicolon.csv');
    for (const chunkSize of [1, 7, 65536]) {
      const doc = documentOf(await parseAll(csvSource, bytes, 'x/messy-semicolon.csv', chunkSize));
      assert.equal(doc.kind, 'csv');
      assert.deepEqual(doc.metadata, {
        delimiter: ';',
        headers: ['full_name', 'e_mail_address', 'column_3', 'full_name_2', 'straße_nr', 'column_6'],
        originalHeaders: [' Full Name ', 'E-Mail Address', '', 'Full Name', 'Straße / Nr.', ''],
        columns: 6,
        rows: 2,
        raggedRows: 1,
      });
      assert.equal(doc.text, 'full_name\te_mail_address\tcolumn_3\tfull_name_2\tstraße_nr\tcolumn_6\nDoe; Jane\tjane@example.org\tx\tdup\tHauptstraße 1\t\nMax Mustermann\tmax@example.de\ty\tdup2\tAm Markt 2\textra\t');
      assert.deepEqual(doc.pii, { email: 2 });
    }
  });

  test('CSV: the text stops at 1 MiB, every row is still counted; tabs sniffed', async () => {
    const row = `${'x'.repeat(100)}\t${'y'.repeat(100)}\n`;
    const rows = 8000; // 1.6 MB
    const bytes = Buffer.from(`first\tsecond\n${row.repeat(rows)}`);
    const doc = documentOf(await parseAll(csvSource, bytes, 'x/big.tsv'));
    assert.equal(doc.metadata.delimiter, 'tab');
    assert.equal(doc.metadata.rows, rows);
    assert.equal(doc.metadata.textTruncated, true);
    assert.equal(doc.text!.length, 1024 * 1024);
  });

  test('JSON of unknown shape: top-level keys, string values as text; streamed in any chunk size', async () => {
    const bytes = read('unknown-shape.json');
    for (const chunkSize of [1, 13, 65536]) {
      const doc = documentOf(await parseAll(jsonSource, bytes, 'x/unknown-shape.json', chunkSize));
      assert.equal(doc.kind, 'json');
      assert.equal(doc.extraction, 'text');
      assert.deepEqual(doc.metadata, { shape: { type: 'object', keyCount: 4, keys: ['exportedBy', 'version', 'entries', 'settings'] }, strings: 7 });
      assert.equal(doc.text, 'Some Service\n2021-04-01\nCall Jane at +49 30 1234567\n2021-04-02\nBank IBAN GB82 WEST 1234 5698 7654 32\nbank\nmoney\n');
      assert.deepEqual(doc.pii, { phone: 1, iban: 1 });
    }
  });

  test('JSON: arrays, JSON Lines, and a cut-off file kept with what was read', async () => {
    const array = documentOf(await parseAll(jsonSource, Buffer.from('[{"a": "x", "b": 1}, {"a": "y"}, 3, null]'), 'x/a.json'));
    assert.deepEqual(array.metadata.shape, { type: 'array', length: 4, elementTypes: { object: 2, number: 1, null: 1 }, firstObjectKeys: ['a', 'b'] });
    const lines = documentOf(await parseAll(jsonSource, Buffer.from('{"a": "x"}\n{"a": "y"}\n[1]\n'), 'x/lines.jsonl'));
    assert.deepEqual(lines.metadata.shape, { type: 'sequence', values: 3, valueTypes: { object: 2, array: 1 } });
    const cut = await parseAll(jsonSource, Buffer.from('\uFEFF{"items": ["one", "two", "thr'), 'x/cut.json');
    assert.deepEqual(rejectionsOf(cut).map((r) => [r.category, r.byteOffset]), [['malformed', 32]]);
    const doc = documentOf(cut);
    assert.equal(doc.extraction, 'malformed');
    assert.equal(doc.text, 'one\ntwo\n');
  });
});

describe('documents import', () => {
  let t: TestLake;
  let dir: string;
  before(async () => {
    t = await openTestLake();
    dir = await mkdtemp(path.join(os.tmpdir(), 'lake-documents-'));
  });
  after(async () => {
    await t.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  test('every file of an export is kept: documents, blobs byte for byte, quarantine with reasons; again adds nothing', async () => {
    const user = await createUser(t.lake, 'docs');
    const root = path.join(dir, 'Takeout');
    await mkdir(path.join(root, 'Drive'), { recursive: true });
    const files: Record<string, Buffer> = {
      'Drive/invoice.pdf': REPORT_PDF,
      'Drive/locked.pdf': LOCKED_PDF,
      'Drive/broken.pdf': Buffer.from('%PDF-1.7\nthis is not really a pdf\n'),
      'Drive/messy-semicolon.csv': read('messy-semicolon.csv'),
      'Drive/unknown-shape.json': read('unknown-shape.json'),
      'Drive/notes.txt': Buffer.from('Remember: the lake house key is under the mat.\n'),
      'Drive/page.html': Buffer.from('<!DOCTYPE html><html><body><h1>Title</h1><p>Some <b>bold</b> words.</p></body></html>'),
      'Drive/blob.bin': randomBytes(300_000),
      'Drive/archive.json': EMPTY_ZIP,
      'Drive/empty.txt': Buffer.alloc(0),
    };
    for (const [name, content] of Object.entries(files)) await writeFile(path.join(root, name), content);
    await writeYazl(path.join(root, 'Drive/letter.docx'), docxEntries(['Hello from the docx.'], { title: 'Letter', creator: 'Max', created: '2023-05-01T10:00:00Z' }));
    files['Drive/letter.docx'] = readFileSync(path.join(root, 'Drive/letter.docx'));

    const first = await runImport(t.lake.db, { userId: user, inputs: [root], batchSize: 3, blobs: t.lake.blobs });
    const byName = new Map(first.files.map((f) => [path.basename(f.path), f]));
    assert.equal(first.files.length, Object.keys(files).length); // every file once
    const expect = (name: string, format: string | null, status: string, quarantined: Record<string, number> = {}) => {
      const f = byName.get(name);
      assert.ok(f, name);
      assert.deepEqual([f.format, f.status, f.quarantined], [format, status, quarantined], name);
    };
    expect('invoice.pdf', 'document.pdf', 'done');
    expect('locked.pdf', 'document.pdf', 'done', { encrypted: 1 });
    expect('broken.pdf', 'document.pdf', 'done', { malformed: 1 });
    expect('letter.docx', 'document.docx', 'done');
    expect('messy-semicolon.csv', 'document.csv', 'done');
    expect('unknown-shape.json', 'document.json', 'done');
    expect('notes.txt', 'document.file', 'done');
    expect('page.html', 'document.file', 'done');
    expect('blob.bin', 'document.file', 'done');
    expect('empty.txt', null, 'empty');
    // Kept, and the report still says the content is not what the name says.
    expect('archive.json', 'document.file', 'done');
    assert.equal(byName.get('archive.json')?.note, 'the content is application/zip but the name says application/json');
    assert.equal(byName.get('invoice.pdf')?.records, 2); // the blob reference and the document row

    const docs = await t.lake.db.asUser(user, (tx) =>
      tx.query<{ path: string; kind: string; extraction: string; title: string | null; body: string | null; language: string | null; pii: Record<string, number> | null; sha256: Buffer; size_bytes: string; mime_type: string | null; mime_from_name: string | null }>(
        `SELECT path, kind, extraction, title, body, language, pii, sha256, size_bytes, mime_type, mime_from_name FROM user_data.documents ORDER BY path`,
      ),
    );
    const rows = new Map(docs.rows.map((r) => [path.basename(r.path), r]));
    assert.equal(rows.get('notes.txt')?.language, 'en', 'the language of the text');
    assert.equal(rows.get('blob.bin')?.language, null, 'no text, no language');
    assert.deepEqual([...rows.keys()].sort(), Object.keys(files).filter((n) => n !== 'Drive/empty.txt').map((n) => path.basename(n)).sort());
    for (const [name, content] of Object.entries(files)) {
      if (content.length === 0) continue;
      const row = rows.get(path.basename(name))!;
      assert.equal(Buffer.from(row.sha256).toString('hex'), sha256(content), name);
      assert.equal(Number(row.size_bytes), content.length, name);
    }
    assert.deepEqual(
      Object.fromEntries([...rows].map(([n, r]) => [n, [r.kind, r.extraction]])),
      {
        'blob.bin': ['other', 'none'],
        'broken.pdf': ['pdf', 'malformed'],
        'invoice.pdf': ['pdf', 'text'],
        'letter.docx': ['docx', 'text'],
        'locked.pdf': ['pdf', 'encrypted'],
        'messy-semicolon.csv': ['csv', 'text'],
        'notes.txt': ['text', 'text'],
        'page.html': ['text', 'text'],
        'archive.json': ['other', 'none'],
        'unknown-shape.json': ['json', 'text'],
      },
    );
    assert.deepEqual(rows.get('invoice.pdf')?.pii, { email: 1, iban: 1, payment_card: 1 });
    assert.equal(rows.get('letter.docx')?.body, 'Hello from the docx.\n\n');
    assert.equal(rows.get('page.html')?.body, 'Title\n\nSome bold words.');
    assert.deepEqual([rows.get('archive.json')?.mime_type, rows.get('archive.json')?.mime_from_name], ['application/zip', 'application/json']);

    // Full-text search over title and text.
    const found = await t.lake.db.asUser(user, (tx) =>
      tx.query<{ path: string }>(`SELECT path FROM user_data.documents WHERE search @@ websearch_to_tsquery('simple', 'lake house') ORDER BY path`),
    );
    assert.deepEqual(found.rows.map((r) => path.basename(r.path)), ['invoice.pdf', 'notes.txt']);
    const withIban = await t.lake.db.asUser(user, (tx) => tx.query<{ path: string }>(`SELECT path FROM user_data.documents WHERE pii ? 'iban' ORDER BY path`));
    assert.deepEqual(withIban.rows.map((r) => path.basename(r.path)), ['invoice.pdf', 'unknown-shape.json']);

    // The quarantine names the file and says why.
    const quarantine = await t.lake.db.asUser(user, (tx) =>
      tx.query<{ entry: string; category: string; reason: string }>(`SELECT entry, category, reason FROM imports.quarantine ORDER BY entry`),
    );
    assert.deepEqual(
      quarantine.rows.map((r) => [path.basename(r.entry), r.category, r.reason.replace(/\(pdf\.js: .*\)$/, '(pdf.js: …)')]),
      [
        ['broken.pdf', 'malformed', 'malformed: text not extracted (pdf.js: …)'],
        ['locked.pdf', 'encrypted', 'encrypted: text not extracted (the PDF needs a password)'],
      ],
    );

    // Every blob reads back byte for byte.
    const refs = await t.lake.db.asUser(user, (tx) => tx.query<{ sha256: Buffer; original_name: string }>(`SELECT sha256, original_name FROM user_data.blob_refs`));
    assert.equal(refs.rows.length, Object.keys(files).length - 1);
    for (const ref of refs.rows) {
      const name = path.relative(root, ref.original_name) || ref.original_name;
      const expected = Object.entries(files).find(([n]) => ref.original_name.endsWith(n))?.[1];
      assert.ok(expected, name);
      const back = await readAll(await t.lake.blobs.open(Buffer.from(ref.sha256).toString('hex')));
      assert.ok(back.equals(expected), name);
    }

    const again = await runImport(t.lake.db, { userId: user, inputs: [root], batchSize: 3, blobs: t.lake.blobs });
    assert.equal(again.totals.records, 0);
    assert.equal(again.totals.duplicates, first.totals.records);
    const count = await t.lake.db.asUser(user, (tx) => tx.query<{ n: string }>(`SELECT count(*) AS n FROM user_data.documents`));
    assert.equal(Number(count.rows[0]!.n), docs.rows.length);
  });

  test('without a blob store the documents are still described (contentKept false), no references', async () => {
    const user = await createUser(t.lake, 'noblobs');
    const file = path.join(dir, 'solo', 'data.json');
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, '{"k": "v"}');
    const report = await runImport(t.lake.db, { userId: user, inputs: [file], batchSize: 10 });
    assert.deepEqual([report.files[0]?.format, report.files[0]?.records], ['document.json', 1]);
    const row = await t.lake.db.asUser(user, (tx) => tx.query<{ attributes: unknown }>(`SELECT attributes FROM user_data.documents`));
    assert.deepEqual(row.rows[0]?.attributes, { contentKept: false });
  });
});

describe('documents import killed and run again', () => {
  // Enough files that the kill (sent after 12 records) lands while the import still runs, even on a fast server.
  const FILES = 300;
  let cli: CliTestLake;
  let dir: string;
  let env: Record<string, string>;
  before(async () => {
    cli = await cliTestLake('lake-documents-resume-');
    ({ dir, env } = cli);
    const folder = path.join(dir, 'export');
    await mkdir(folder);
    for (let i = 0; i < FILES; i++) {
      const name = i % 3 === 0 ? `table-${i}.csv` : i % 3 === 1 ? `data-${i}.json` : `note-${i}.txt`;
      const content = i % 3 === 0 ? `id;name\n${i};row ${i}\n` : i % 3 === 1 ? JSON.stringify({ i, text: `value ${i}` }) : `note number ${i}\n`;
      await writeFile(path.join(folder, name), content);
    }
    await writeFile(path.join(folder, 'invoice.pdf'), REPORT_PDF);
  });
  after(() => cli?.dispose());

  /** `lake import` of the folder; with `killAfter`, SIGKILL once a progress event reports that many records. */
  const importFolder = (user: string, killAfter?: number) =>
    lakeImport({ env, inputs: [path.join(dir, 'export')], user, batchSize: 2, killAfterRecords: killAfter });

  test('SIGKILL mid-import, the same command again: the documents and blobs of an uninterrupted run', async () => {
    const killed = await importFolder('resumed', 12);
    assert.equal(killed.signal, 'SIGKILL', `the import finished before it could be killed: ${killed.stdout.slice(0, 200)}`);
    const resumed = await importFolder('resumed');
    assert.equal(resumed.code, 0, resumed.stdout.slice(0, 500));
    const whole = await importFolder('whole');
    assert.equal(whole.code, 0);

    const lake = await Lake.open(loadConfig(env), { migrate: false });
    try {
      const rows = await lake.db.query<{ name: string; documents: number; docs: string; refs: number; blobs: string; loading: number }>(
        `SELECT u.name,
                (SELECT count(*) FROM user_data.documents d WHERE d.user_id = u.user_id)::int AS documents,
                (SELECT md5(string_agg(d.path || encode(d.sha256, 'hex') || d.kind || d.extraction || coalesce(d.body, '') || d.metadata::text, ',' ORDER BY d.path))
                   FROM user_data.documents d WHERE d.user_id = u.user_id) AS docs,
                (SELECT count(*) FROM user_data.blob_refs b WHERE b.user_id = u.user_id)::int AS refs,
                (SELECT md5(string_agg(encode(b.sha256, 'hex') || b.original_name, ',' ORDER BY b.original_name))
                   FROM user_data.blob_refs b WHERE b.user_id = u.user_id) AS blobs,
                (SELECT count(*) FROM imports.files f WHERE f.user_id = u.user_id AND f.status = 'loading')::int AS loading
           FROM user_data.users u WHERE u.name IN ('resumed', 'whole') ORDER BY u.name`,
      );
      const [resumedRow, wholeRow] = rows.rows;
      assert.equal(wholeRow!.documents, FILES + 1);
      assert.equal(wholeRow!.refs, FILES + 1);
      assert.deepEqual({ ...resumedRow, name: 'whole' }, wholeRow);
      assert.equal(resumedRow!.loading, 0);
      // Every referenced blob is in the store, whole.
      const refs = await lake.db.query<{ sha256: Uint8Array }>(`SELECT DISTINCT sha256 FROM user_data.blob_refs`);
      for (const ref of refs.rows) {
        const sha = Buffer.from(ref.sha256).toString('hex');
        assert.equal(sha256(await readAll(await lake.blobs.open(sha))), sha);
      }
    } finally {
      await lake.close();
    }
  });
});
