// PostgreSQL COPY text format, written by hand because it is four escapes and a join: a library
// would add a dependency and a stream per batch for no gain.
/** bytea already in hex (no `\\x` prefix): saves decoding a hash only to encode it again. */
export class HexBytes {
  constructor(readonly hex: string) {}
}

export type CopyValue = string | number | boolean | Date | Uint8Array | HexBytes | Record<string, unknown> | null | undefined;

const NULL = '\\N';

export function copyLine(values: readonly CopyValue[]): string {
  let line = copyField(values[0]);
  for (let i = 1; i < values.length; i++) line += `\t${copyField(values[i])}`;
  return `${line}\n`;
}

function copyField(value: CopyValue): string {
  if (value === null || value === undefined) return NULL;
  if (typeof value === 'string') return escape(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : NULL;
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? NULL : value.toISOString();
  if (value instanceof HexBytes) return `\\\\x${value.hex}`;
  if (value instanceof Uint8Array) return `\\\\x${Buffer.from(value).toString('hex')}`;
  return escape(JSON.stringify(value));
}

/** Backslash, tab, newline and carriage return are the characters COPY text gives meaning to. */
function escape(text: string): string {
  return /[\\\t\n\r]/.test(text)
    ? text.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'))
    : text;
}
