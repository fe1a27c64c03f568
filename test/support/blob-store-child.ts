// Child process for test/blob-store.test.ts, for what needs a process of its own:
//   memory <root> <megabytes>  put a generated stream into cold, read it back, move it to warm and
//                              read it again; prints {"sha256", "maxRssMiB"} as JSON. The parent
//                              runs it with a small heap to show nothing holds the whole blob.
//   crash <root>               put an endless stream and print "writing" once bytes are on disk;
//                              the parent kills it there.
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { BlobStore } from '../../src/store/blob-store.js';

const [mode, root, megabytes] = process.argv.slice(2);
const store = new BlobStore(root!);
const MIB = 1 << 20;

/** `count` MiB, half random (incompressible), half text (compressible), made as it is read. */
function generated(count: number, onChunk: (chunk: Buffer) => void): Readable {
  let made = 0;
  const text = Buffer.from('{"lat":52.52,"lon":13.40,"at":"2024-03-10T12:00:00Z","source":"generated"}\n'.repeat(Math.ceil(MIB / 75))).subarray(0, MIB);
  return new Readable({
    read() {
      if (made === count) return this.push(null);
      const chunk = made % 2 === 0 ? randomBytes(MIB) : Buffer.from(text);
      made += 1;
      onChunk(chunk);
      this.push(chunk);
    },
  });
}

async function readAndHash(sha256: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of await store.open(sha256)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

if (mode === 'memory') {
  const expected = createHash('sha256');
  const put = await store.put(generated(Number(megabytes), (chunk) => expected.update(chunk)), { tier: 'cold' });
  const sha256 = expected.digest('hex');
  if (put.sha256 !== sha256) throw new Error(`put hashed ${put.sha256}, the generator ${sha256}`);
  if ((await readAndHash(sha256)) !== sha256) throw new Error('cold copy reads back differently');
  await store.move(sha256, 'warm');
  if ((await readAndHash(sha256)) !== sha256) throw new Error('warm copy reads back differently');
  process.stdout.write(`${JSON.stringify({ sha256, maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) })}\n`);
} else if (mode === 'crash') {
  let announced = false;
  const endless = new Readable({
    read() {
      // Slow enough that the parent's kill lands mid-write.
      setTimeout(() => {
        this.push(randomBytes(256 << 10));
        if (!announced) {
          announced = true;
          setTimeout(() => process.stdout.write('writing\n'), 50);
        }
      }, 5);
    },
  });
  await store.put(endless, { tier: 'warm' });
} else {
  throw new Error(`unknown mode ${mode}`);
}
