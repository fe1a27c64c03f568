// The import's progress line (issue 13): the whole import first (file n of N, bytes of total, rate,
// ETA), then the current file; fitted to the terminal's width without wrapping, the file's name
// shortened in the middle. A pure function of the progress and the width: no database.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatProgressLine, shortenMiddle, type ProgressView } from '../src/cli/progress.js';
import { formatBytes } from '../src/ingest/report.js';

const MiB = 1024 * 1024;
const view: ProgressView = {
  path: 'Takeout/Location History (Timeline)/Semantic Location History/2021/2021_MARCH.json',
  fileBytes: 5 * MiB,
  fileSize: 10 * MiB,
  records: 123_456,
  bytes: 95 * MiB,
  filesDone: 11,
  filesTotal: 40,
  bytesTotal: 400 * MiB,
  seconds: 10,
};

test('at 200 columns: the bar, file 12 of 40, overall percent, bytes of total, records, rate, ETA, the whole file name and its percent', () => {
  const line = formatProgressLine(view, 200, { bar: true });
  assert.ok(line.length <= 200, line);
  assert.equal(
    line,
    '[#####...............] · file 12 of 40 · 25% · 100 MiB of 400 MiB · 123,456 records · 10 MiB/s · ETA 0:30 · ' +
      'Takeout/Location History (Timeline)/Semantic Location History/2021/2021_MARCH.json 50%',
  );
});

test('at 80 columns: the bar, the record count and the rate give way, the name is shortened in the middle to fill the width', () => {
  const line = formatProgressLine(view, 80, { bar: true });
  assert.equal(line, 'file 12 of 40 · 25% · 100 MiB of 400 MiB · ETA 0:30 · Takeout/…21_MARCH.json 50%');
  assert.equal(line.length, 80);
});

test('at 40 columns: the import\'s position and the end of the file name, nothing wrapped', () => {
  const line = formatProgressLine(view, 40, { bar: true });
  assert.ok(line.length <= 40, `${line.length}: ${line}`);
  assert.equal(line, 'file 12 of 40 · Takeout…1_MARCH.json 50%');
});

test('without known totals (an archive): files done and bytes read, no ETA; a narrow line never exceeds its width', () => {
  const unknown = { ...view, filesTotal: null, bytesTotal: null };
  const line = formatProgressLine(unknown, 200, { bar: true });
  assert.match(line, /^11 files done · 100 MiB read · 123,456 records · 10 MiB\/s · Takeout\/.*2021_MARCH\.json 50%$/);
  assert.doesNotMatch(line, /ETA|\[/);
  for (const width of [1, 10, 20, 39]) assert.ok(formatProgressLine(view, width, { bar: true }).length <= width, `width ${width}`);
});

test('shortenMiddle keeps the start and the longer end', () => {
  assert.equal(shortenMiddle('abcdefghij', 20), 'abcdefghij');
  assert.equal(shortenMiddle('abcdefghijklmnopqrst', 11), 'abcd…opqrst');
  assert.equal(shortenMiddle('abcdefghijklmnopqrst', 11).length, 11);
});

test('byte counts and rates under a KiB are whole bytes', () => {
  assert.equal(formatBytes(4.30363519824192), '4 B');
  assert.equal(formatBytes(1023.6), '1.0 KiB');
  assert.equal(formatBytes(0), '0 B');
});
