// A .docx may not take the process down: one of 180 KB whose word/document.xml inflates to 60 MB
// (a zip bomb), with honest sizes or sizes that lie, is kept without text (`too_large`); text that
// needs more heap or time than the DOCX reader's worker may take is too; JSZip's throw on an
// entry of another size than declared stays in the worker (`malformed`). Parser level, and
// through a real `lake import` under the 192 MB heap `lake` runs with, on either backend. The
// other document extractors under that heap too: a CSV header of 4 million fields, a JSON
// string value of 200 MB.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../src/config/config.js';
import type { DocumentRecord, ParseEvent } from '../src/ingest/records.js';
import type { Source } from '../src/ingest/source.js';
import { createDocxSource, DOCX_MAX_INFLATE_BYTES, docxSource } from '../src/ingest/sources/formats/documents/docx.js';
import { MAX_CSV_HEADERS } from '../src/ingest/sources/formats/documents/csv.js';
import { jsonSource, MAX_JSON_STRING_BYTES, StringLengthGuard } from '../src/ingest/sources/formats/documents/json.js';
import { Lake } from '../src/lake.js';
import { buildZip, type RawZipEntry } from './support/archives.js';
import { cliTestLake, lakeImport, type CliTestLake } from './support/lake-cli.js';
import { docxEntries } from './fixtures/documents/make.js';

const CORE = { title: 'Bomb', creator: 'Probe', created: '2026-12-08T00:00:00Z' };
const PARAGRAPH = '<w:p><w:r><w:t>A</w:t></w:r></w:p>';

/** A .docx whose word/document.xml is `paragraphs` one-letter paragraphs; `declaredSize` written in its place when given. */
function denseDocx(paragraphs: number, declaredSize?: number): Buffer {
  return buildZip(
    docxEntries(['x'], CORE).map((entry): RawZipEntry => {
      if (entry.name !== 'word/document.xml') return entry;
      const xml = entry.content.toString('utf8').replace(/<w:p>.*<\/w:p>/, PARAGRAPH.repeat(paragraphs));
      return { ...entry, content: Buffer.from(xml, 'utf8'), ...(declaredSize === undefined ? {} : { declaredSize }) };
    }),
  );
}

const MB = 1024 * 1024;
/** Fields of the wide CSV's header line: just under MAX_CSV_ROW_BYTES of commas. */
const WIDE_COLUMNS = 4 * MB - 64;
/** ~60 MB of XML, as the probe's file: 178 KB deflated. */
const BOMB_PARAGRAPHS = Math.ceil((60 * MB) / PARAGRAPH.length);
const LETTER = buildZip(docxEntries(['Dear Jane,', 'the lake is frozen.'], { title: 'Letter', creator: 'Max', created: '2023-05-01T10:00:00Z' }));

async function parseAll(source: Source, bytes: Buffer, filePath: string): Promise<ParseEvent[]> {
  const events: ParseEvent[] = [];
  for await (const event of source.parse(Readable.from([bytes]), { path: filePath, repairs: { invalidUtf8: 0, nulCharacters: 0 }, blobs: null })) events.push(event);
  return events;
}

function documentOf(events: ParseEvent[]): DocumentRecord {
  const found = events.find((e) => e.kind === 'record' && e.record.type === 'document');
  assert.ok(found && found.kind === 'record', 'no document record');
  return found.record as DocumentRecord;
}

const rejectionsOf = (events: ParseEvent[]) => events.flatMap((e) => (e.kind === 'reject' ? [e.rejection] : []));

describe('DOCX text within limits (parser)', () => {
  let bomb: Buffer;
  let lyingBomb: Buffer;
  /** ~2 MB of one-letter paragraphs: mammoth needs over 300 MB of heap and seconds for it. */
  let dense: Buffer;
  before(() => {
    bomb = denseDocx(BOMB_PARAGRAPHS);
    lyingBomb = denseDocx(BOMB_PARAGRAPHS, 4096);
    dense = denseDocx(60_000);
  });

  test('a zip bomb with honest sizes is too_large by its central directory, at once', async () => {
    assert.ok(bomb.length < 400 * 1024, `the bomb is ${bomb.length} bytes`);
    const started = performance.now();
    const events = await parseAll(docxSource, bomb, 'Drive/bomb.docx');
    const doc = documentOf(events);
    assert.equal(doc.extraction, 'too_large');
    assert.equal(doc.text, null);
    assert.equal(doc.kind, 'docx');
    assert.deepEqual(doc.metadata.core, { title: 'Bomb', creator: 'Probe', created: '2026-12-08T00:00:00Z' });
    const note = String(doc.attributes?.note);
    assert.match(note, /^too_large: text not extracted \(Drive\/bomb\.docx: word\/document\.xml would inflate to \d+ bytes from \d+ in the zip; /);
    assert.ok(note.includes(`at most ${DOCX_MAX_INFLATE_BYTES} bytes`), note);
    assert.deepEqual(rejectionsOf(events), [{ category: 'too_large', reason: note, byteOffset: null, line: null, excerpt: null }]);
    assert.ok(performance.now() - started < 5000, 'no inflating: the declared size is enough');
  });

  test('the same bomb declaring 4 KB is too_large by what it inflates to', async () => {
    const doc = documentOf(await parseAll(docxSource, lyingBomb, 'Drive/lying.docx'));
    assert.equal(doc.extraction, 'too_large');
    assert.match(String(doc.attributes?.note), /^too_large: text not extracted \(Drive\/lying\.docx: word\/document\.xml inflates to more than \d+ bytes from \d+ in the zip; /);
  });

  test('text that needs more heap than the reader has, or more time, is too_large; the reader then reads the next one', async () => {
    const small = await parseAll(createDocxSource({ workerHeapMb: 48 }), dense, 'x/dense.docx');
    assert.equal(documentOf(small).extraction, 'too_large');
    assert.equal(String(documentOf(small).attributes?.note), 'too_large: text not extracted (x/dense.docx: reading its text needed more than the 48 MB the DOCX reader may use)');
    assert.equal(rejectionsOf(small)[0]?.category, 'too_large');

    const slow = await parseAll(createDocxSource({ timeoutMs: 100 }), dense, 'x/dense.docx');
    assert.equal(documentOf(slow).extraction, 'too_large');
    assert.equal(String(documentOf(slow).attributes?.note), 'too_large: text not extracted (x/dense.docx: reading its text took longer than the 0.1 s the DOCX reader may take)');

    // (The 0.1 s reader is not asked: starting its worker again takes longer than that.)
    for (const source of [createDocxSource({ workerHeapMb: 48 }), docxSource]) {
      const letter = documentOf(await parseAll(source, LETTER, 'x/letter.docx'));
      assert.equal(letter.extraction, 'text');
      assert.equal(letter.text, 'Dear Jane,\n\nthe lake is frozen.\n\n');
      assert.equal(letter.title, 'Letter');
    }
  });

  test('an entry a few bytes off its declared size: JSZip throws in the worker, the document is malformed', async () => {
    const events = await parseAll(docxSource, denseDocx(3, 20), 'x/off.docx');
    assert.equal(documentOf(events).extraction, 'malformed');
    assert.match(String(documentOf(events).attributes?.note), /^malformed: text not extracted \(mammoth: .*size mismatch/);
    assert.equal(rejectionsOf(events)[0]?.category, 'malformed');
    assert.equal(documentOf(await parseAll(docxSource, LETTER, 'x/letter.docx')).extraction, 'text');
  });
});

describe('DOCX zip bombs through `lake import` with a 192 MB heap', () => {
  let cli: CliTestLake;
  before(async () => {
    cli = await cliTestLake('lake-docx-limits-');
    const folder = path.join(cli.dir, 'export', 'Drive');
    await mkdir(folder, { recursive: true });
    await writeFile(path.join(folder, 'bomb.docx'), denseDocx(BOMB_PARAGRAPHS));
    await writeFile(path.join(folder, 'lying.docx'), denseDocx(BOMB_PARAGRAPHS, 4096));
    await writeFile(path.join(folder, 'letter.docx'), LETTER);
    // Not a DOCX: a CSV whose 4 MB header line is 4 million empty fields (their names took over 192 MB).
    await writeFile(path.join(folder, 'wide.csv'), Buffer.concat([Buffer.alloc(WIDE_COLUMNS - 1, ','), Buffer.from('\n1,2\n')]));
  });
  after(() => cli?.dispose());

  test('the import finishes: the bombs are documents without text, quarantined too_large; the letter has its text; the wide CSV its first headers', async () => {
    const run = await lakeImport({ env: cli.env, inputs: [path.join(cli.dir, 'export')], user: 'docx', batchSize: 100, nodeFlags: ['--max-old-space-size=192'] });
    assert.equal(run.signal, null, run.stderr.slice(-5).join('\n'));
    assert.equal(run.code, 0, `${run.stdout.slice(0, 500)}\n${run.stderr.slice(-5).join('\n')}`);
    const lake = await Lake.open(loadConfig(cli.env), { migrate: false });
    try {
      const docs = await lake.db.query<{ path: string; extraction: string; body: string | null; note: string | null }>(
        `SELECT path, extraction, body, attributes->>'note' AS note FROM user_data.documents ORDER BY path`,
      );
      assert.deepEqual(
        docs.rows.map((d) => [path.posix.basename(d.path), d.extraction, d.body]),
        [
          ['bomb.docx', 'too_large', null],
          ['letter.docx', 'text', 'Dear Jane,\n\nthe lake is frozen.\n\n'],
          ['lying.docx', 'too_large', null],
          ['wide.csv', 'text', `${Array.from({ length: MAX_CSV_HEADERS }, (_, i) => `column_${i + 1}`).join('\t')}\n1\t2`],
        ],
      );
      const wide = await lake.db.query<{ metadata: Record<string, unknown> }>(`SELECT metadata FROM user_data.documents WHERE path LIKE '%wide.csv'`);
      const { headers, originalHeaders, ...rest } = wide.rows[0]!.metadata as { headers: string[]; originalHeaders: string[] };
      assert.equal(headers.length, MAX_CSV_HEADERS);
      assert.equal(headers.at(-1), `column_${MAX_CSV_HEADERS}`);
      assert.equal(originalHeaders.length, MAX_CSV_HEADERS);
      assert.deepEqual(rest, { delimiter: ',', columns: WIDE_COLUMNS, rows: 1, raggedRows: 1, headersTruncated: true });
      const quarantine = await lake.db.query<{ entry: string; category: string; reason: string }>(`SELECT entry, category, reason FROM imports.quarantine ORDER BY entry`);
      assert.deepEqual(
        quarantine.rows.map((q) => [path.posix.basename(q.entry), q.category]),
        [
          ['bomb.docx', 'too_large'],
          ['lying.docx', 'too_large'],
        ],
      );
      for (const q of quarantine.rows) assert.match(q.reason, /word\/document\.xml (would inflate to|inflates to more than) \d+ bytes/);
    } finally {
      await lake.close();
    }
  });
});

describe('JSON documents: one string value too long to hold', () => {
  test('the guard finds string ends across chunks, escapes included', () => {
    const guard = new StringLengthGuard(5);
    // "ab\"c" is 5 bytes as written; then a key of 3; then a 6-byte value passes the limit at its 6th byte.
    const parts = ['{"ab\\', '"c":"x', 'yz", "k": [1, "abcd', 'ef"]}'];
    assert.deepEqual(parts.map((p) => guard.scan(Buffer.from(p))), [-1, -1, -1, 1]);
    assert.equal(new StringLengthGuard(5).scan(Buffer.from('["12345", "\\\\\\"]')), -1);
  });

  test(`a ${MAX_JSON_STRING_BYTES + 1}-byte string is too_large; what came before it is kept`, async () => {
    const head = Buffer.from('\ufeff{"note": "before it", "blob": "');
    const events: ParseEvent[] = [];
    const input = Readable.from([head, Buffer.alloc(MAX_JSON_STRING_BYTES + 1, 'x'), Buffer.from('", "after": "never read"}')]);
    for await (const event of jsonSource.parse(input, { path: 'x/big.json', repairs: { invalidUtf8: 0, nulCharacters: 0 }, blobs: null })) events.push(event);
    const doc = documentOf(events);
    assert.equal(doc.extraction, 'too_large');
    assert.equal(doc.text, 'before it\n');
    const at = head.length + MAX_JSON_STRING_BYTES;
    assert.deepEqual(rejectionsOf(events), [
      {
        category: 'too_large',
        reason: `too_large: a JSON string value longer than ${MAX_JSON_STRING_BYTES} bytes at byte ${at}: not read further (what was read before it is kept)`,
        byteOffset: at,
        line: null,
        excerpt: null,
      },
    ]);
  });

  test('a 200 MB string value under a 192 MB heap: the document is kept, the process lives', async () => {
    const source = new URL('../src/ingest/sources/formats/documents/json.ts', import.meta.url).href;
    const script = `
      import { Readable } from 'node:stream';
      import { jsonSource } from ${JSON.stringify(source)};
      function* input() {
        yield Buffer.from('{"note": "hello", "blob": "');
        const block = Buffer.alloc(1024 * 1024, 'x');
        for (let i = 0; i < 200; i++) yield block;
        yield Buffer.from('"}');
      }
      const out = [];
      for await (const e of jsonSource.parse(Readable.from(input()), { path: 'big.json', repairs: { invalidUtf8: 0, nulCharacters: 0 }, blobs: null })) {
        out.push(e.kind === 'reject' ? e.rejection.category : e.record.extraction + ':' + e.record.text);
      }
      console.log(JSON.stringify(out));`;
    const child = spawn(process.execPath, ['--max-old-space-size=192', '--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
    assert.equal(signal, null, stderr.slice(0, 300));
    assert.equal(code, 0, stderr.slice(0, 1000));
    assert.deepEqual(JSON.parse(stdout), ['too_large', 'too_large:hello\n']);
  });
});
