// The streaming JSON array scanner: element values and byte offsets, chunk-boundary invariance,
// malformed and truncated input, paths that are absent or not arrays, and bounded memory.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { ParseError } from '../src/errors.js';
import { jsonArrayElements, scanJsonBatches, JsonArrayScanner, type JsonScanEvent, type JsonScanTarget } from '../src/ingest/parse/json-array.js';
import { MAX_NESTING_DEPTH } from '../src/ingest/parse/nesting.js';

async function* chunksOf(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

interface ScanResult {
  events: JsonScanEvent[];
  error: ParseError | null;
}

async function scan(input: string | Buffer, targets: JsonScanTarget[], chunkSize = 1 << 16, maxElementBytes?: number): Promise<ScanResult> {
  const bytes = typeof input === 'string' ? Buffer.from(input) : input;
  const events: JsonScanEvent[] = [];
  try {
    const options = { file: 'test.json', targets, ...(maxElementBytes === undefined ? {} : { maxElementBytes }) };
    for await (const batch of scanJsonBatches(chunksOf(bytes, chunkSize), options)) events.push(...batch);
  } catch (error) {
    if (!(error instanceof ParseError)) throw error;
    return { events, error };
  }
  return { events, error: null };
}

const elementsOf = (events: JsonScanEvent[]) => events.filter((event) => event.kind === 'element');
const valuesOf = (events: JsonScanEvent[]) => elementsOf(events).map((event) => event.value);

/** A document exercising strings with escapes and quotes, nesting, Unicode and Jackson spacing. */
const TRICKY = Buffer.from(
  '\ufeff{ "header" : {"skip": ["]", "}", {"locations": 1}]},\n' +
    '  "locations" : [ {\n    "a" : "quote \\" and backslash \\\\",\n    "nested" : [ [ ], { "b" : "}]" } ]\n  },\n' +
    '  "é€😀 multibyte",\n  -12.5e3 , true, null ,\n  { "k\\"ey" : "\\u00e9\\u0000\\ud83d\\ude00" }, [ ]\n  ],\n  "after" : { "locations" : [ 1 ] }\n}\n',
);

describe('jsonArrayElements', () => {
  it('yields each element of the array at the path with its value, index and byte offset', async () => {
    const text = '{"other": [9, 9], "locations": [{"n": 1}, {"n": 2}]}';
    const events: JsonScanEvent[] = [];
    for await (const event of jsonArrayElements(chunksOf(Buffer.from(text), 5), { path: ['locations'], file: 'x.json' })) events.push(event);
    assert.deepEqual(
      elementsOf(events).map(({ value, offset, index }) => ({ value, offset, index })),
      [
        { value: { n: 1 }, offset: text.indexOf('{"n": 1}'), index: 0 },
        { value: { n: 2 }, offset: text.indexOf('{"n": 2}'), index: 1 },
      ],
    );
    assert.deepEqual(events.at(-1), { kind: 'end', matched: [true], root: 'object', rootKeys: ['other', 'locations'] });
  });

  it('reads the top-level array with path []', async () => {
    const { events, error } = await scan('[ {"a":1} , "s", 2 ]', [{ path: [] }]);
    assert.equal(error, null);
    assert.deepEqual(valuesOf(events), [{ a: 1 }, 's', 2]);
  });

  it('follows nested key paths and skips look-alike keys deeper down', async () => {
    const { events } = await scan('{"x": {"locations": [0]}, "data": {"kind": "f", "items": [{"i": 1}]}}', [{ path: ['data', 'items'] }]);
    assert.deepEqual(valuesOf(events), [{ i: 1 }]);
  });

  it('handles quotes, escapes, nesting, Unicode, Jackson spacing and a BOM, with offsets counting the BOM', async () => {
    const { events, error } = await scan(TRICKY, [{ path: ['locations'] }]);
    assert.equal(error, null);
    assert.deepEqual(valuesOf(events), [
      { a: 'quote " and backslash \\', nested: [[], { b: '}]' }] },
      'é€😀 multibyte',
      -12500,
      true,
      null,
      { 'k"ey': 'é\u0000😀' },
      [],
    ]);
    const firstOffset = TRICKY.indexOf('{\n    "a"');
    assert.equal(elementsOf(events)[0]!.offset, firstOffset);
    assert.equal(elementsOf(events)[1]!.offset, TRICKY.indexOf('"é€'));
    // Only the first "locations" member is the path; the one inside "after" is deeper.
    assert.equal(elementsOf(events).length, 7);
  });

  it('gives identical events whatever the chunk size (1 byte, 7 bytes, 64 KiB)', async () => {
    // plainAscii aside: elements parsed together share one flag, so it is exact only for elements parsed alone.
    const withoutFlag = ({ error, events }: ScanResult) =>
      ({ error, events: events.map((event) => (event.kind === 'element' ? { ...event, plainAscii: undefined } : event)) });
    const reference = withoutFlag(await scan(TRICKY, [{ path: ['locations'] }], 1 << 16));
    for (const size of [1, 2, 3, 7, 13]) {
      assert.deepEqual(withoutFlag(await scan(TRICKY, [{ path: ['locations'] }], size)), reference, `chunk size ${size}`);
    }
  });

  it('says an element is plain ASCII only when it has no byte above 0x7f and no escape, whatever the chunk size', async () => {
    const elements = ['{"a": "plain", "n": 1}', '{"a": "caf\\u00e9"}', '{"a": "x\\ny"}', '{"a": "café"}', '{"a": "nul\\u0000"}', '[1, 2, "three"]', '"text"', '42'];
    const text = `{"locations": [${elements.join(', ')}]}`;
    const plain = [true, false, false, false, false, true, true, true];
    for (const size of [1, 5, 1 << 16]) {
      const flags = elementsOf((await scan(text, [{ path: ['locations'] }], size)).events).map((event) => event.plainAscii);
      assert.equal(flags.length, elements.length);
      // Never plain when it is not; exact when each element is parsed alone (1-byte chunks).
      flags.forEach((flag, i) => {
        assert.ok(!flag || plain[i], `element ${i}, chunk size ${size}`);
      });
      if (size === 1) assert.deepEqual(flags, plain);
    }
    const ascii = `{"locations": [${elements.filter((_, i) => plain[i]).join(', ')}]}`;
    const together = elementsOf((await scan(ascii, [{ path: ['locations'] }], 1 << 16)).events).map((event) => event.plainAscii);
    assert.deepEqual(together, [true, true, true, true], 'a run of plain elements parsed together keeps the flag');
  });

  it('splits a multi-byte character or an escape across chunks without damage', async () => {
    const text = '["\\\\\\"", "😀😀", "\\u00e9"]';
    for (const size of [1, 2, 3]) {
      const { events } = await scan(text, [{ path: [] }], size);
      assert.deepEqual(valuesOf(events), ['\\"', '😀😀', 'é'], `chunk size ${size}`);
    }
  });

  it('reads an element larger than a chunk', async () => {
    const big = { blob: 'x'.repeat(200_000), list: Array.from({ length: 2000 }, (_, i) => ({ i })) };
    const text = `{"locations": [${JSON.stringify(big)}, {"small": true}]}`;
    const { events } = await scan(text, [{ path: ['locations'] }], 1 << 16);
    assert.deepEqual(valuesOf(events), [big, { small: true }]);
    assert.equal(elementsOf(events)[1]!.offset, text.indexOf('{"small"'));
  });

  it('reports a malformed element with its offset and carries on with the next', async () => {
    const text = '{"locations": [{"ok": 1}, {"bad": tru}, {"ok": 2}]}';
    for (const size of [1, 64]) {
      const { events, error } = await scan(text, [{ path: ['locations'] }], size);
      assert.equal(error, null);
      assert.deepEqual(valuesOf(events), [{ ok: 1 }, { ok: 2 }]);
      const malformed = events.filter((event) => event.kind === 'malformed');
      assert.equal(malformed.length, 1);
      assert.equal(malformed[0]!.offset, text.indexOf('{"bad"'));
      assert.equal(malformed[0]!.index, 1);
      assert.match(malformed[0]!.reason, /invalid JSON/);
      assert.equal(malformed[0]!.excerpt, '{"bad": tru}');
      assert.equal(elementsOf(events)[1]!.index, 2);
    }
  });

  it('reports stray commas and a missing comma between elements, and keeps the elements around them', async () => {
    const text = '[{"a":1} {"b":2},,3,]';
    const { events, error } = await scan(text, [{ path: [] }]);
    assert.equal(error, null);
    assert.deepEqual(valuesOf(events), [{ a: 1 }, { b: 2 }, 3]);
    assert.deepEqual(
      events.filter((event) => event.kind === 'malformed').map((event) => [event.offset, event.reason]),
      [
        [9, "missing ',' between array elements"],
        [17, "empty element between ','"],
        [20, "trailing ',' before ']'"],
      ],
    );
  });

  it('on a truncated file yields every complete element, then a ParseError at the start of the incomplete one', async () => {
    const text = '{"locations": [{"n": 1}, {"n": 2}, {"n": 3, "unfinished": "abc';
    for (const size of [1, 7, 1 << 16]) {
      const { events, error } = await scan(text, [{ path: ['locations'] }], size);
      assert.deepEqual(valuesOf(events), [{ n: 1 }, { n: 2 }]);
      assert.ok(error, 'a ParseError');
      assert.equal(error.byteOffset, text.indexOf('{"n": 3'));
      assert.equal(error.code, 'PARSE_ERROR');
      assert.match(error.message, /test\.json: input ends inside element 2 of "locations"/);
    }
  });

  it('on a file cut after the array but before the document ends, throws at the end of input', async () => {
    const text = '{"locations": [{"n": 1}], "more": {"x": ';
    const { events, error } = await scan(text, [{ path: ['locations'] }]);
    assert.deepEqual(valuesOf(events), [{ n: 1 }]);
    assert.equal(error?.byteOffset, text.indexOf('{"x"'));
  });

  it('throws on an empty file, and at the offending byte of broken structure outside elements', async () => {
    assert.equal((await scan('', [{ path: [] }])).error?.byteOffset, 0);
    assert.equal((await scan('  \n', [{ path: [] }])).error?.byteOffset, 3);
    const broken = '{"a": 1 "locations": [1]}';
    const { error } = await scan(broken, [{ path: ['locations'] }]);
    assert.equal(error?.byteOffset, broken.indexOf('"locations"'));
    assert.match(error?.message ?? '', /unexpected '"', expected ',' or '}'/);
    const trailing = '[1] x';
    const result = await scan(trailing, [{ path: [] }]);
    assert.deepEqual(valuesOf(result.events), [1]);
    assert.equal(result.error?.byteOffset, 4);
  });

  it('reports a path that is absent, with the root keys found instead', async () => {
    const { events, error } = await scan('{"data": {"items": []}, "version": 1}', [{ path: ['locations'] }]);
    assert.equal(error, null);
    assert.deepEqual(events, [{ kind: 'end', matched: [false], root: 'object', rootKeys: ['data', 'version'] }]);
  });

  it('reports a path whose value is not an array, and a root of another type', async () => {
    const { events } = await scan('{"locations": {"n": 1}}', [{ path: ['locations'] }]);
    assert.deepEqual(events[0], { kind: 'not_array', target: 0, offset: 14, found: 'object' });
    const scalarRoot = await scan('"just a string"', [{ path: [] }]);
    assert.deepEqual(scalarRoot.events, [
      { kind: 'not_array', target: 0, offset: 0, found: 'string' },
      { kind: 'end', matched: [true], root: 'string', rootKeys: [] },
    ]);
  });

  it('scans several targets in one pass and captures a whole value in value mode', async () => {
    // Several arrays in one chunk: elements of different arrays must never be parsed as one batch.
    const text = '{"segments": [{"s": 1}, {"s": 2}], "signals": [{"p": 1}, {"p": 2}], "profile": {"places": [1]}, "signals": [{"p": 3}]}';
    for (const size of [3, 1 << 16]) {
      const { events } = await scan(text, [{ path: ['segments'] }, { path: ['signals'] }, { path: ['profile'], mode: 'value' }], size);
      assert.deepEqual(
        elementsOf(events).map((event) => [event.target, event.index, event.value, event.offset]),
        [
          [0, 0, { s: 1 }, text.indexOf('{"s": 1}')],
          [0, 1, { s: 2 }, text.indexOf('{"s": 2}')],
          [1, 0, { p: 1 }, text.indexOf('{"p": 1}')],
          [1, 1, { p: 2 }, text.indexOf('{"p": 2}')],
          [2, 0, { places: [1] }, text.indexOf('{"places"')],
          [1, 0, { p: 3 }, text.indexOf('{"p": 3}')],
        ],
        `chunk size ${size}`,
      );
    }
  });

  it('replaces invalid UTF-8 and counts it per element, without counting a genuine U+FFFD', async () => {
    const bytes = Buffer.concat([Buffer.from('["ok \u00e9 \ufffd", "bad '), Buffer.from([0xff, 0xc3]), Buffer.from(' end", "ascii"]')]);
    for (const size of [1, 1 << 16]) {
      const { events } = await scan(bytes, [{ path: [] }], size);
      assert.deepEqual(
        elementsOf(events).map((event) => [event.value, event.invalidUtf8]),
        [
          ['ok é \ufffd', 0],
          ['bad \ufffd\ufffd end', 2],
          ['ascii', 0],
        ],
      );
    }
  });

  it('skips an element over maxElementBytes as too_large without buffering it, and goes on', async () => {
    const text = `[{"small": 1}, {"big": "${'y'.repeat(5000)}"}, {"small": 2}]`;
    for (const size of [7, 1 << 16]) {
      const { events } = await scan(text, [{ path: [] }], size, 1000);
      assert.deepEqual(valuesOf(events), [{ small: 1 }, { small: 2 }]);
      const tooLarge = events.find((event) => event.kind === 'too_large');
      assert.deepEqual(tooLarge, { kind: 'too_large', target: 0, index: 1, offset: text.indexOf('{"big"'), bytes: 5011 });
    }
  });

  it('reads raw control bytes inside strings (keys and values) as the characters they stand for; the element is then not plain ASCII', async () => {
    // Issue 12: a literal NUL in a Records.json string made the element malformed, and its excerpt aborted the import.
    const text = `{"locations":[{"a":1},{"so\u0001urce":"wi\u0000fi\tx"},{"b":2}],"k\u0002ey":0}`;
    for (const size of [1, 5, 1 << 16]) {
      const { events, error } = await scan(Buffer.from(text, 'utf8'), [{ path: ['locations'] }], size);
      assert.equal(error, null);
      assert.deepEqual(valuesOf(events), [{ a: 1 }, { 'so\u0001urce': 'wi\u0000fi\tx' }, { b: 2 }]);
      assert.equal(elementsOf(events)[1]!.plainAscii, false);
    }
    // Outside a string a control byte is still an error, reported for its element alone.
    const broken = `[{"a":nu\u0000ll},{"b":1}]`;
    const { events } = await scan(broken, [{ path: [] }]);
    assert.deepEqual(valuesOf(events), [{ b: 1 }]);
    assert.equal(events.filter((event) => event.kind === 'malformed').length, 1);
  });

  it(`reports an element nested deeper than ${MAX_NESTING_DEPTH} levels as too_deep, at its offset, and reads on`, async () => {
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    const limit = `${'['.repeat(MAX_NESTING_DEPTH)}${']'.repeat(MAX_NESTING_DEPTH)}`;
    const text = `{"skipped":${deep},"locations":[${deep},{"a":${limit.slice(1, -1)}},{"b":2}]}`;
    for (const size of [3, 1000, 1 << 16]) {
      const { events, error } = await scan(text, [{ path: ['locations'] }], size);
      assert.equal(error, null);
      assert.deepEqual(events.filter((event) => event.kind === 'too_deep'), [{ kind: 'too_deep', target: 0, index: 0, offset: text.indexOf('"locations":[') + '"locations":['.length, depth: MAX_NESTING_DEPTH }]);
      assert.deepEqual(elementsOf(events).map((event) => event.index), [1, 2]);
    }
    // A target read whole (mode value) is bounded the same way.
    const { events } = await scan(`{"v":${deep}}`, [{ path: ['v'], mode: 'value' }]);
    assert.deepEqual(events.map((event) => event.kind), ['too_deep', 'end']);
  });

  it('refuses decoded text as input (its offsets would not be byte offsets)', async () => {
    const strings = (async function* () {
      yield '[1]';
    })();
    await assert.rejects(async () => {
      for await (const batch of scanJsonBatches(strings, { file: 'x', targets: [{ path: [] }] })) void batch;
    }, TypeError);
  });

  it('delivers the elements completed before a structural error in the same chunk', () => {
    const scanner = new JsonArrayScanner({ file: 'x.json', targets: [{ path: ['a'] }] });
    const events = scanner.write(Buffer.from('{"a": [1, 2], ]'));
    assert.deepEqual(valuesOf(events), [1, 2]);
    assert.throws(() => scanner.throwIfFailed(), (error: unknown) => error instanceof ParseError && error.byteOffset === 14);
  });

  it('streams a large array with a small heap (memory bounded by the element, not the file)', () => {
    // 120 MB of elements generated on the fly in a child process limited to a 40 MB heap.
    const script = `
      import { jsonArrayElements } from ${JSON.stringify(new URL('../src/ingest/parse/json-array.ts', import.meta.url).href)};
      const element = Buffer.from(',{"timestampMs": "1500000000000", "latitudeE7": 525163000, "longitudeE7": 134013000, "accuracy": 14, "source": "WIFI"}');
      async function* input() {
        yield Buffer.from('{"locations": [{"first": true}');
        const block = Buffer.concat(Array.from({ length: 1000 }, () => element));
        for (let i = 0; i < 1000; i++) yield block;
        yield Buffer.from(']}');
      }
      let count = 0;
      for await (const event of jsonArrayElements(input(), { path: ['locations'], file: 'gen' })) if (event.kind === 'element') count++;
      console.log(count);
    `;
    const child = spawnSync(process.execPath, ['--max-old-space-size=40', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout.trim(), '1000001');
  });
});
