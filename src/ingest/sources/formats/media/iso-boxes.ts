// The metadata of an MP4 / QuickTime (ISO base media, ISO/IEC 14496-12) file, read from its boxes
// as the bytes stream past: duration and creation time (moov/mvhd), frame size (moov/trak/tkhd),
// and a recorded position (moov/udta/©xyz, ISO 6709, as phones write it). Written by hand: the npm
// readers (mp4box) buffer the file or want random access, and these four boxes need a few dozen
// lines. Memory stays bounded wherever moov is: descends only into moov, trak, mdia and udta,
// keeps only those small leaf boxes (at most MAX_LEAF_BYTES each), and counts past everything
// else (mdat, sample tables) without holding it. So a camera file with moov after a many-GB mdat
// is read in the same single pass that stores it in the blob store.

const CONTAINERS = new Set(['moov', 'trak', 'mdia', 'udta']);
const LEAVES = new Set(['mvhd', 'tkhd', 'hdlr', '\u00a9xyz']);
const QUICKTIME_TOP = new Set(['ftyp', 'moov', 'mdat', 'wide', 'free', 'skip', 'pnot']);
const MAX_LEAF_BYTES = 64 * 1024;
/** Seconds from 1904-01-01 (the format's epoch) to 1970-01-01. */
const MAC_EPOCH_OFFSET = 2_082_844_800;

export interface IsoMediaFacts {
  /** mvhd creation time (UTC by the specification); null when 0 or unreadable. */
  createdAt: Date | null;
  durationS: number | null;
  width: number | null;
  height: number | null;
  /** Clockwise rotation the track matrix asks for (0, 90, 180, 270). */
  rotation: number | null;
  location: { lat: number; lon: number; alt: number | null } | null;
  /** Set when the box structure broke: reading stopped there. */
  problem: string | null;
}

interface Open {
  type: string;
  end: number;
}

export class IsoBoxReader {
  readonly facts: IsoMediaFacts = { createdAt: null, durationS: null, width: null, height: null, rotation: null, location: null, problem: null };
  private position = 0;
  private header = Buffer.alloc(16);
  private headerBytes = 0;
  private boxStart = 0;
  /** Bytes to count past before the next header. */
  private skip = 0;
  private capture: { type: string; data: Buffer; filled: number } | null = null;
  private readonly stack: Open[] = [];
  private stopped = false;
  private sawFirst = false;
  private timescale = 0;

  /** Feeds the next bytes of the file. */
  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length && !this.stopped) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - at);
        this.skip -= n;
        at += n;
        this.position += n;
        if (this.skip === 0) this.closeFinished();
        continue;
      }
      if (this.capture) {
        const c = this.capture;
        const n = Math.min(c.data.length - c.filled, chunk.length - at);
        chunk.copy(c.data, c.filled, at, at + n);
        c.filled += n;
        at += n;
        this.position += n;
        if (c.filled === c.data.length) {
          this.capture = null;
          this.readLeaf(c.type, c.data);
          this.closeFinished();
        }
        continue;
      }
      // A box header: 8 bytes, or 16 with a 64-bit size.
      if (this.headerBytes === 0) this.boxStart = this.position;
      const want = this.headerBytes >= 8 && this.header.readUInt32BE(0) === 1 ? 16 : 8;
      const n = Math.min(want - this.headerBytes, chunk.length - at);
      chunk.copy(this.header, this.headerBytes, at, at + n);
      this.headerBytes += n;
      at += n;
      this.position += n;
      if (this.headerBytes === 8 && this.header.readUInt32BE(0) === 1) continue;
      if (this.headerBytes === want) this.openBox(want);
    }
  }

  /** Called at the end of the file. */
  end(): IsoMediaFacts {
    if (!this.stopped && this.sawFirst && (this.headerBytes > 0 || this.capture || this.skip > 0)) {
      // A box cut off by the end of the file (a truncated video): what was read stays.
      this.facts.problem ??= `the file ends inside a box at byte ${this.boxStart}`;
    }
    return this.facts;
  }

  private openBox(headerLength: number): void {
    this.headerBytes = 0;
    const size32 = this.header.readUInt32BE(0);
    const type = this.header.toString('latin1', 4, 8);
    const parentEnd = this.stack.at(-1)?.end ?? Infinity;
    let size: number;
    if (size32 === 1) size = Number(this.header.readBigUInt64BE(8));
    else if (size32 === 0) size = parentEnd - this.boxStart; // runs to the end of its parent (or the file)
    else size = size32;
    if (!this.sawFirst) {
      this.sawFirst = true;
      if (!QUICKTIME_TOP.has(type)) return this.stop(null); // not an ISO base media file: nothing to read
    }
    const end = this.boxStart + size;
    if (size < headerLength || end > parentEnd) {
      return this.stop(`box "${printable(type)}" at byte ${this.boxStart} declares ${size} bytes, past its container`);
    }
    const body = size - headerLength;
    if (CONTAINERS.has(type) && (type !== 'udta' || this.stack.at(-1)?.type === 'moov')) {
      this.stack.push({ type, end });
      this.closeFinished();
    } else if (LEAVES.has(type) && body <= MAX_LEAF_BYTES && this.stack.length > 0) {
      this.capture = { type, data: Buffer.alloc(body), filled: 0 };
      if (body === 0) {
        this.capture = null;
        this.closeFinished();
      }
    } else {
      this.skip = body;
      if (body === 0) this.closeFinished();
      if (body === Infinity) this.stopped = true; // a last box running to the end: nothing after it
    }
  }

  /** Leaves the containers whose end has been reached. */
  private closeFinished(): void {
    while (this.stack.length > 0 && this.position >= this.stack.at(-1)!.end) this.stack.pop();
  }

  private stop(problem: string | null): void {
    this.stopped = true;
    if (problem) this.facts.problem = problem;
  }

  private readLeaf(type: string, data: Buffer): void {
    try {
      if (type === 'mvhd') this.readMvhd(data);
      else if (type === 'tkhd') this.readTkhd(data);
      else if (type === '\u00a9xyz') this.readLocation(data);
    } catch {
      this.facts.problem ??= `box "${printable(type)}" is too short`;
    }
  }

  private readMvhd(data: Buffer): void {
    const version = data.readUInt8(0);
    const created = version === 1 ? Number(data.readBigUInt64BE(4)) : data.readUInt32BE(4);
    this.timescale = version === 1 ? data.readUInt32BE(20) : data.readUInt32BE(12);
    const duration = version === 1 ? Number(data.readBigUInt64BE(24)) : data.readUInt32BE(16);
    if (created > MAC_EPOCH_OFFSET) this.facts.createdAt = new Date((created - MAC_EPOCH_OFFSET) * 1000);
    // All ones means "unknown" in both versions.
    const unknown = version === 1 ? duration >= 2 ** 64 - 1 : duration === 0xffffffff;
    if (this.timescale > 0 && !unknown) this.facts.durationS = duration / this.timescale;
  }

  private readTkhd(data: Buffer): void {
    const version = data.readUInt8(0);
    const matrixAt = version === 1 ? 52 : 40;
    const width = data.readUInt32BE(matrixAt + 36) / 65536;
    const height = data.readUInt32BE(matrixAt + 40) / 65536;
    // Audio tracks have no size; the first track with one is the picture.
    if (width > 0 && height > 0 && this.facts.width === null) {
      this.facts.width = Math.round(width);
      this.facts.height = Math.round(height);
      const a = data.readInt32BE(matrixAt);
      const b = data.readInt32BE(matrixAt + 4);
      this.facts.rotation = (Math.round((Math.atan2(b, a) * 180) / Math.PI / 90) * 90 + 360) % 360;
    }
  }

  private readLocation(data: Buffer): void {
    const length = data.readUInt16BE(0);
    const text = data.toString('latin1', 4, 4 + length);
    const match = /^([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)?\/?/.exec(text);
    if (!match) return;
    const lat = Number(match[1]);
    const lon = Number(match[2]);
    if (Math.abs(lat) <= 90 && Math.abs(lon) <= 180 && !(lat === 0 && lon === 0)) {
      this.facts.location = { lat, lon, alt: match[3] === undefined ? null : Number(match[3]) };
    }
  }
}

function printable(type: string): string {
  return type.replace(/[^\x20-\x7e\u00a9]/g, '?');
}
