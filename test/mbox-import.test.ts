// Gmail .mbox through a real import with the blob store, on either backend: attachments land in
// the store and read back byte for byte, the message leads to them by SHA-256; and the bad inputs
// of issue 4 end as kept-and-flagged messages or quarantine entries while the rest carries on (a
// broken MIME boundary, a header in an unknown charset, an mbox cut off mid-message).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buffer as readAll } from 'node:stream/consumers';
import { after, before, describe, test } from 'node:test';
import { runImport } from '../src/ingest/runner.js';
import { createUser, openTestLake, type TestLake } from './support/lake.js';

const FIXTURES = new URL('./fixtures/mbox/', import.meta.url);
const read = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

// The two attachments of message 3 of takeout.mbox (jp-3@example.jp), decoded from the fixture's
// base64 here, independently of the parser.
const REPORT_PDF = Buffer.from('JVBERi0xLjQKJSBmaXh0dXJlIGF0dGFjaG1lbnQsIG5vdCBhIHJlYWwgUERGCg==', 'base64');
const UBERSICHT = Buffer.from('w5xiZXJzaWNodDogMyBQdW5rdGUK', 'base64');
/** The attachment of message 10 (large-10@example.com): its base64 lines, up to the closing boundary. */
function largeAttachment(): Buffer {
  const text = read('takeout.mbox').toString('latin1');
  const start = text.indexOf('\n\n', text.indexOf('filename="blob.bin"')) + 2;
  return Buffer.from(text.slice(start, text.indexOf('\n--big--', start)), 'base64');
}

describe('Gmail mbox import with the blob store', () => {
  let t: TestLake;
  let dir: string;
  before(async () => {
    t = await openTestLake();
    dir = await mkdtemp(path.join(os.tmpdir(), 'lake-mbox-import-'));
  });
  after(async () => {
    await t.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  test('attachments in the store byte for byte, referenced by the user, linked from the message; again adds nothing', async () => {
    const user = await createUser(t.lake, 'attachments');
    const mail = path.join(dir, 'one', 'Takeout', 'Mail');
    await mkdir(mail, { recursive: true });
    await writeFile(path.join(mail, 'All mail Including Spam and Trash.mbox'), read('takeout.mbox'));
    const first = await runImport(t.lake.db, { userId: user, inputs: [path.join(dir, 'one')], batchSize: 4, blobs: t.lake.blobs });
    const report = first.files[0]!;
    assert.equal(report.format, 'google.gmail.mbox');
    assert.equal(report.status, 'done');
    assert.equal(report.records, 9 + 3); // nine messages, three attachment references

    const refs = await t.lake.db.asUser(user, (tx) =>
      tx.query<{ sha256: Uint8Array; size_bytes: string; mime_type: string; original_name: string; source: string }>(
        'SELECT sha256, size_bytes, mime_type, original_name, source FROM user_data.blob_refs ORDER BY original_name',
      ),
    );
    assert.deepEqual(
      refs.rows.map((r) => [r.original_name, r.mime_type, Number(r.size_bytes), hex(r.sha256), r.source]),
      [
        ['blob.bin', 'application/octet-stream', 6000, sha256(largeAttachment()), 'google.gmail.mbox'],
        ['report.pdf', 'application/pdf', REPORT_PDF.length, sha256(REPORT_PDF), 'google.gmail.mbox'],
        ['Übersicht.txt', 'text/plain', UBERSICHT.length, sha256(UBERSICHT), 'google.gmail.mbox'],
      ],
    );
    for (const [ref, expected] of [[refs.rows[0]!, largeAttachment()], [refs.rows[1]!, REPORT_PDF], [refs.rows[2]!, UBERSICHT]] as const) {
      const back = await readAll(await t.lake.blobs.open(hex(ref.sha256)));
      assert.ok(back.equals(expected), ref.original_name);
    }
    // The message names its attachments by SHA-256: message → blobs.
    const message = await t.lake.db.asUser(user, (tx) =>
      tx.query<{ attachments: Array<{ filename: string; sha256: string }> }>(`SELECT attachments FROM user_data.messages WHERE message_id = 'jp-3@example.jp'`),
    );
    assert.deepEqual(
      message.rows[0]!.attachments.map((a) => [a.filename, a.sha256]),
      [
        ['report.pdf', sha256(REPORT_PDF)],
        ['Übersicht.txt', sha256(UBERSICHT)],
      ],
    );

    const again = await runImport(t.lake.db, { userId: user, inputs: [path.join(dir, 'one')], batchSize: 4, blobs: t.lake.blobs });
    assert.deepEqual([again.files[0]?.records, again.files[0]?.duplicates], [0, 12]);
    const count = await t.lake.db.asUser(user, (tx) => tx.query<{ n: number }>('SELECT count(*)::int AS n FROM user_data.blob_refs'));
    assert.equal(count.rows[0]!.n, 3);
  });

  test('bad inputs: broken boundary and unknown charset kept and flagged; a cut-off mbox keeps the complete message', async () => {
    const user = await createUser(t.lake, 'badmail');
    const folder = path.join(dir, 'two');
    await mkdir(folder, { recursive: true });
    await writeFile(path.join(folder, 'All mail.mbox'), read('takeout.mbox'));
    const truncated = read('truncated.mbox');
    await writeFile(path.join(folder, 'Cut.mbox'), truncated);
    const result = await runImport(t.lake.db, { userId: user, inputs: [folder], batchSize: 100, blobs: t.lake.blobs });
    const cut = result.files.find((f) => f.path.endsWith('Cut.mbox'))!;
    const whole = result.files.find((f) => f.path.endsWith('All mail.mbox'))!;
    assert.deepEqual([whole.status, whole.records], ['done', 12]); // the other files do not stop it
    assert.deepEqual([cut.format, cut.status, cut.records, cut.quarantined], ['google.gmail.mbox', 'done', 1, { malformed: 1 }]);

    const rows = await t.lake.db.asUser(user, (tx) =>
      tx.query<{ message_id: string; subject: string | null; body: string | null; attributes: Record<string, unknown> | null }>(
        `SELECT message_id, subject, body, attributes FROM user_data.messages
          WHERE message_id IN ('unknown-4@example.com', 'broken-5@example.com', 'trunc-1@example.org') ORDER BY message_id`,
      ),
    );
    const byId = new Map(rows.rows.map((r) => [r.message_id, r]));
    // A header in an unknown charset: kept, decoded as Latin-1, the charsets named.
    assert.equal(byId.get('unknown-4@example.com')?.subject, 'Café ok');
    assert.equal(byId.get('unknown-4@example.com')?.body, 'Café au lait\n');
    assert.deepEqual(byId.get('unknown-4@example.com')?.attributes, { unknownCharsets: ['x-unknown-8bit', 'x-mystery'] });
    // A multipart whose boundary is never closed: kept with what was read, the problem recorded.
    assert.deepEqual(byId.get('broken-5@example.com')?.attributes, { mimeProblem: 'multipart/mixed boundary "never-closed" is never closed' });
    assert.ok((byId.get('broken-5@example.com')?.body ?? '').length > 0);
    // Cut off mid-message: the complete one kept, the cut one quarantined at its separator's offset.
    assert.equal(byId.get('trunc-1@example.org')?.subject, 'Complete');
    const q = await t.lake.db.asUser(user, (tx) =>
      tx.query<{ entry: string; category: string; reason: string; byte_offset: number; line: number }>(
        `SELECT entry, category, reason, byte_offset, line FROM imports.quarantine WHERE entry LIKE '%Cut.mbox'`,
      ),
    );
    const secondSeparator = truncated.indexOf('\nFrom 1545668983435190006@xxx') + 1;
    assert.deepEqual(
      q.rows.map((r) => [r.category, r.reason, Number(r.byte_offset)]),
      [['malformed', 'message cut off: the file ends mid-line inside an unclosed multipart', secondSeparator]],
    );
    // The cut message's attachment (also named blob.bin) is not stored: only complete messages' are.
    const refs = await t.lake.db.asUser(user, (tx) => tx.query<{ original_name: string; sha256: Uint8Array }>('SELECT original_name, sha256 FROM user_data.blob_refs ORDER BY 1'));
    assert.deepEqual(
      refs.rows.map((r) => [r.original_name, hex(r.sha256)]),
      [
        ['blob.bin', sha256(largeAttachment())],
        ['report.pdf', sha256(REPORT_PDF)],
        ['Übersicht.txt', sha256(UBERSICHT)],
      ],
    );
  });

  // Issue 13 defect 2: separators with no empty line before them (after chats, after a body with no
  // trailing blank line); every message in, LF and CRLF.
  test('no-blank-line.mbox: all six messages (three chats) stored, none lost or quarantined, LF and CRLF', async () => {
    const user = await createUser(t.lake, 'noblank');
    const folder = path.join(dir, 'three', 'Takeout', 'Mail');
    await mkdir(folder, { recursive: true });
    const lf = read('no-blank-line.mbox');
    await writeFile(path.join(folder, 'All mail Including Spam and Trash.mbox'), lf);
    // The CRLF copy is the same messages: only the one without a Message-ID (keyed by its raw bytes) is new.
    await writeFile(path.join(folder, 'Crlf.mbox'), Buffer.from(lf.toString('latin1').replace(/\n/g, '\r\n'), 'latin1'));
    const result = await runImport(t.lake.db, { userId: user, inputs: [path.join(dir, 'three')], batchSize: 4, blobs: t.lake.blobs });
    const byName = (name: string) => result.files.find((f) => f.path.endsWith(name))!;
    const lfReport = byName('Trash.mbox');
    const crlfReport = byName('Crlf.mbox');
    assert.deepEqual([lfReport.format, lfReport.status, lfReport.records, lfReport.quarantined], ['google.gmail.mbox', 'done', 6, {}]);
    assert.deepEqual([crlfReport.status, crlfReport.records + crlfReport.duplicates, crlfReport.quarantined], ['done', 6, {}]);
    const rows = await t.lake.db.asUser(user, (tx) =>
      tx.query<{ message_id: string | null; subject: string; labels: string[]; body: string }>(
        'SELECT message_id, subject, labels, body FROM user_data.messages ORDER BY sent_at, message_id',
      ),
    );
    const distinct = [...new Map(rows.rows.map((r) => [`${r.subject}|${r.body.replace(/\r/g, '')}`, r])).values()];
    assert.deepEqual(
      distinct.map((r) => [r.message_id, r.subject, r.labels.join(',')]),
      [
        ['nb-1@example.org', 'Lunch on Friday', 'Inbox,Opened'],
        ['nb-2-chat@example.org', 'Chat with Alice Martin', 'Chat'],
        [null, 'Chat with Alice Martin', 'Chat'],
        ['nb-4@example.org', 'The plan', 'Inbox'],
        ['nb-5@example.com', 'Classic separator', ''],
        ['nb-6-chat@example.org', 'Chat with Dave', 'Chat'],
      ],
    );
    assert.ok(distinct[3]!.body.includes('From here on, we meet at 10:30 every day.\nFrom the minutes: quoted by the writer.\n'));
    const quarantined = await t.lake.db.asUser(user, (tx) => tx.query<{ n: number }>('SELECT count(*)::int AS n FROM imports.quarantine'));
    assert.equal(quarantined.rows[0]!.n, 0);
  });
});
