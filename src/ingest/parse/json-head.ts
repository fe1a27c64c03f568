// Describes the structure visible in the first bytes of a JSON file, for format detection: the
// root type and the key paths seen (`locations`, `locations[].latitudeE7`, `[].header`...). The
// head is usually cut mid-value; whatever was seen before the cut is reported.
import { MAX_NESTING_DEPTH } from './nesting.js';

export interface JsonHeadShape {
  /** Type of the root value, or null when the head does not start like JSON. */
  root: 'object' | 'array' | 'scalar' | null;
  /** Key paths seen, `[]` marking array elements: `locations[].activity[].type`. */
  keys: ReadonlySet<string>;
  /** Paths whose value is an array (`locations`, `[]`...), including empty ones. */
  arrays: ReadonlySet<string>;
}

const MAX_KEYS = 4000;

/** Reads the head (a UTF-8 BOM allowed) without validating it: detection only needs the keys. */
export function describeJsonHead(head: Uint8Array): JsonHeadShape {
  const keys = new Set<string>();
  const arrays = new Set<string>();
  let text = Buffer.from(head.buffer, head.byteOffset, head.byteLength).toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const firstByte = /\S/.exec(text)?.[0];
  const root = firstByte === '{' ? 'object' : firstByte === '[' ? 'array' : firstByte === undefined ? null : 'scalar';
  if (root !== 'object' && root !== 'array') return { root, keys, arrays };

  // Each open container's path; for objects, the key whose value comes next.
  const stack: { path: string; isArray: boolean }[] = [];
  let pendingKeyPath: string | null = null;
  let i = 0;
  const n = text.length;
  const valuePath = (): string => {
    const top = stack[stack.length - 1];
    if (!top) return '';
    return top.isArray ? `${top.path}[]` : (pendingKeyPath ?? top.path);
  };
  while (i < n && keys.size < MAX_KEYS) {
    const c = text[i]!;
    if (c === '"') {
      const close = findStringEnd(text, i + 1);
      if (close < 0) break;
      const top = stack[stack.length - 1];
      // A string in an object where a key is expected is a key: look ahead for the colon.
      let j = close + 1;
      while (j < n && (text[j] === ' ' || text[j] === '\n' || text[j] === '\r' || text[j] === '\t')) j++;
      if (top && !top.isArray && text[j] === ':') {
        const key = decodeKey(text.slice(i + 1, close));
        pendingKeyPath = top.path === '' ? key : `${top.path}.${key}`;
        keys.add(pendingKeyPath);
        i = j + 1;
        continue;
      }
      i = close + 1;
      continue;
    }
    if (c === '{' || c === '[') {
      if (stack.length >= MAX_NESTING_DEPTH) break; // what was seen above it is the shape
      const path = valuePath();
      if (c === '[') arrays.add(path);
      stack.push({ path, isArray: c === '[' });
      pendingKeyPath = null;
    } else if (c === '}' || c === ']') {
      stack.pop();
      pendingKeyPath = null;
    } else if (c === ',') {
      pendingKeyPath = null;
    }
    i++;
  }
  return { root, keys, arrays };
}

function findStringEnd(text: string, from: number): number {
  let i = from;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) i += 2;
    else if (c === 0x22) return i;
    else i++;
  }
  return -1;
}

function decodeKey(raw: string): string {
  if (!raw.includes('\\')) return raw;
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return raw;
  }
}

/** The file name of a `/`-separated path, for name-based detection. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
