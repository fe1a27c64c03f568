// PostgreSQL COPY text format, written by hand because it is four escapes and a join: a library
// would add a dependency and a stream per batch for no gain.
export type CopyValue = string | number | boolean | Date | Uint8Array | Record<string, unknown> | null | undefined;

const NULL = '\\N';

export function copyLine(values: readonly CopyValue[]): string {
  return `${values.map(copyField).join('\t')}\n`;
}

function copyField(value: CopyValue): string {
  if (value === null || value === undefined) return NULL;
  if (typeof value === 'string') return escape(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : NULL;
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? NULL : value.toISOString();
  if (value instanceof Uint8Array) return `\\\\x${Buffer.from(value).toString('hex')}`;
  return escape(JSON.stringify(value));
}

/** Backslash, tab, newline and carriage return are the characters COPY text gives meaning to. */
function escape(text: string): string {
  return /[\\\t\n\r]/.test(text)
    ? text.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'))
    : text;
}
