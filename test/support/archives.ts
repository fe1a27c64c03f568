// Archive writers for tests: well-formed zips through yazl, and byte-level zip and tar writers
// for the malformed and malicious archives that no well-behaved tool would write.
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import yazl from 'yazl';

// ---------------------------------------------------------------------------------------------
// Byte-level zip writer, for archives no well-behaved tool would write

export interface RawZipEntry {
  name: string | Buffer;
  content?: Buffer;
  method?: number;
  flags?: number;
  /** Written instead of the real uncompressed size (a lying entry). */
  declaredSize?: number;
  versionMadeBy?: number;
  externalAttributes?: number;
  /** Extra fields (id, size, data...), written in both the local and the central header. */
  extra?: Buffer;
}

export function buildZip(entries: RawZipEntry[], options: { centralRecords?: number[] } = {}): Buffer {
  const locals: Buffer[] = [];
  const records: Array<{ header: Buffer; nameAndExtra: Buffer }> = [];
  let offset = 0;
  for (const entry of entries) {
    const name = typeof entry.name === 'string' ? Buffer.from(entry.name, 'utf8') : entry.name;
    const content = entry.content ?? Buffer.alloc(0);
    const extra = entry.extra ?? Buffer.alloc(0);
    const method = entry.method ?? 8;
    const flags = entry.flags ?? 0;
    let data = method === 8 ? zlib.deflateRawSync(content) : content;
    // Traditional encryption prefixes a 12-byte header (yauzl checks stored sizes against it).
    if ((flags & 1) !== 0) data = Buffer.concat([Buffer.alloc(12, 0x5a), data]);
    const crc = zlib.crc32(content);
    const size = entry.declaredSize ?? content.length;

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0x21, 12); // 1980-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(extra.length, 28);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(entry.versionMadeBy ?? 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(extra.length, 30);
    central.writeUInt32LE(entry.externalAttributes ?? 0, 38);
    central.writeUInt32LE(offset, 42);
    records.push({ header: central, nameAndExtra: Buffer.concat([name, extra]) });

    locals.push(local, name, extra, data);
    offset += local.length + name.length + extra.length + data.length;
  }
  const chosen = options.centralRecords ?? records.map((_, index) => index);
  const directory = Buffer.concat(chosen.flatMap((index) => [records[index]!.header, records[index]!.nameAndExtra]));
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(chosen.length, 8);
  end.writeUInt16LE(chosen.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

export async function writeYazl(file: string, entries: Array<{ name: string; content: Buffer; mtime?: Date }>, options: { zip64?: boolean } = {}): Promise<void> {
  const zip = new yazl.ZipFile();
  for (const { name, content, mtime } of entries) {
    if (name.endsWith('/')) zip.addEmptyDirectory(name, {});
    else zip.addBuffer(content, name, { forceZip64Format: options.zip64 === true, ...(mtime ? { mtime } : {}) });
  }
  zip.end({ forceZip64Format: options.zip64 === true, comment: '' });
  await pipeline(zip.outputStream, createWriteStream(file));
}

// ---------------------------------------------------------------------------------------------
// Byte-level tar writer

export interface TarHeaderFields {
  name: string | Buffer;
  size?: number;
  type?: string; // typeflag character
  linkname?: string;
}

export function tarHeader({ name, size = 0, type = '0', linkname = '' }: TarHeaderFields): Buffer {
  const block = Buffer.alloc(512);
  (typeof name === 'string' ? Buffer.from(name, 'utf8') : name).copy(block, 0, 0, 100);
  block.write('0000644\0', 100, 'latin1');
  block.write('0000000\0', 108, 'latin1');
  block.write('0000000\0', 116, 'latin1');
  block.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  block.write('00000000000\0', 136, 'latin1');
  block.write(type, 156, 'latin1');
  block.write(linkname, 157, 'utf8');
  block.write('ustar\0', 257, 'latin1');
  block.write('00', 263, 'latin1');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return block;
}

export function tarFile(fields: TarHeaderFields, content = Buffer.alloc(0)): Buffer {
  const padding = (512 - (content.length % 512)) % 512;
  return Buffer.concat([tarHeader({ ...fields, size: content.length }), content, Buffer.alloc(padding)]);
}

export function paxHeader(records: Record<string, string>): Buffer {
  const body = Object.entries(records)
    .map(([key, value]) => {
      const line = ` ${key}=${value}\n`;
      let length = line.length + 1;
      while (`${length}${line}`.length !== length) length += 1;
      return `${length}${line}`;
    })
    .join('');
  return tarFile({ name: 'PaxHeader', type: 'x' }, Buffer.from(body, 'utf8'));
}

export const TAR_END = Buffer.alloc(1024);
