// PostgreSQL COPY text format, written by hand because it is four escapes and a join: a library
// would add a dependency and a stream per batch for no gain. One encoder per column type, so a
// destination builds its line with a template and no per-field type dispatch (this runs for
// every record of a multi-GB import).

const NULL = '\\N';
const SPECIAL = /[\\\t\n\r]/;

/** Backslash, tab, newline and carriage return are the characters COPY text gives meaning to. */
export function text(value: string | null | undefined): string {
  if (value == null) return NULL;
  return SPECIAL.test(value)
    ? value.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'))
    : value;
}

export function num(value: number | null | undefined): string {
  return value == null || !Number.isFinite(value) ? NULL : String(value);
}

export function time(value: Date | null | undefined): string {
  return value == null || Number.isNaN(value.getTime()) ? NULL : value.toISOString();
}

/** A text[] in array-literal syntax: every element quoted, `"` and `\` backslash-escaped. */
export function textArray(values: readonly string[] | null | undefined): string {
  if (values == null) return NULL;
  return text(`{${values.map((v) => `"${v.replace(/["\\]/g, (c) => `\\${c}`)}"`).join(',')}}`);
}

/** A JSON object, or NULL when absent (`emptyAsNull`: also when it has no keys). */
export function json(value: Record<string, unknown> | readonly unknown[] | null | undefined, emptyAsNull = false): string {
  if (value == null) return NULL;
  if (emptyAsNull) {
    let empty = true;
    for (const _ in value) {
      empty = false;
      break;
    }
    if (empty) return NULL;
  }
  return text(JSON.stringify(value));
}

/** bytea given as hex digits. */
export function hex(digits: string): string {
  return `\\\\x${digits}`;
}

export function bytea(value: Uint8Array): string {
  return hex(Buffer.from(value).toString('hex'));
}
