// Every row a user owns, in every table of user data, as NDJSON lines. Each table is read in key
// order, EXPORT_CHUNK rows per short transaction (keyset on the primary key), and a chunk is read
// only when the reader has taken the previous one: memory stays bounded whatever the lake holds, a
// slow reader holds no transaction (on the embedded database a transaction blocks every other
// request), and a reader that goes away stops the reading.
//
// On a server, every chunk transaction of one export reads in the same snapshot (consistentReads):
// a connection of its own holds a READ ONLY REPEATABLE READ transaction for the whole export, and
// each chunk's short transaction, still as the user under row-level security, starts with SET
// TRANSACTION SNAPSHOT, as pg_dump's workers do. An import running meanwhile is wholly in the
// export or wholly out of it, across all tables.
//
// Lines: `{"table":"user_data.items","row":{...}}` with every column but the derived ones (search
// vectors, geography) and the numbers drawn from sequences every user shares (identity columns:
// internal orderings whose gaps would show other users' activity), then one last line
// `{"complete":true,"rows":{"user_data.items":N,...}}`. Output without that line was cut short.
import type { Database, HeldSnapshot, Queryable, QueryResult, Transaction } from '../db/database.js';

const EXPORT_CHUNK = 2000;

/** The schemas that hold users' rows; every table there with a user_id column is exported. */
export const USER_SCHEMAS = ['user_data', 'timeseries', 'imports', 'analytics', 'vectors', 'archive', 'audit'];

export interface ExportedTable {
  /** `schema.table`, as the lines name it. */
  name: string;
  /** The primary key after user_id: column names and types. */
  key: readonly { column: string; type: string }[];
  /**
   * Left out: generated columns (geography, search vectors: derived from the others), identity
   * columns (numbers from a sequence all users share: their gaps tell of other users' rows) and API
   * key hashes (credentials, not data). Identity columns still order the chunks, on the server only.
   */
  derived: readonly string[];
}

/**
 * The user tables, found in the catalog rather than listed (a table added later is exported
 * without anyone remembering to): those of USER_SCHEMAS with a user_id column, not partitions.
 * The API role sees them all under row-level security, so each user reads exactly their rows.
 */
export async function userTables(db: Queryable): Promise<ExportedTable[]> {
  const result = await db.query<{ name: string; key: { column: string; type: string }[]; derived: string[] }>(
    `SELECT format('%s.%s', n.nspname, c.relname) AS name,
            (SELECT coalesce(json_agg(json_build_object('column', a.attname, 'type', format_type(a.atttypid, NULL)) ORDER BY k.ord), '[]')
               FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
              WHERE i.indrelid = c.oid AND i.indisprimary AND a.attname <> 'user_id') AS key,
            ARRAY(SELECT a.attname::text FROM pg_attribute a
                   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                     AND (a.attgenerated <> '' OR a.attidentity <> '' OR a.attname = 'secret_hash')
                   ORDER BY a.attnum) AS derived
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'user_id' AND NOT a.attisdropped)
      ORDER BY array_position($1, n.nspname::text), c.relname`,
    [USER_SCHEMAS],
  );
  return result.rows;
}

/** How a key column travels from one chunk's query to the next: as exact text. */
function keyToText(column: string, type: string): string {
  return type === 'bytea' ? `encode(${column}, 'hex')` : `${column}::text`;
}

function keyFromText(placeholder: string, type: string): string {
  return type === 'bytea' ? `decode(${placeholder}::text, 'hex')` : `${placeholder}::text::${type}`;
}

function chunkQuery(spec: ExportedTable, afterKey: boolean): string {
  const key = spec.key.map(({ column }) => column).join(', ');
  // Keys travel as exact text (timestamps in PostgreSQL's own output with microseconds, bytea as hex).
  const keyText = spec.key.map(({ column, type }, i) => `${keyToText(column, type)} AS k${i}`).join(', ');
  const placeholders = spec.key.map(({ type }, i) => keyFromText(`$${i + 1}`, type)).join(', ');
  const row = spec.derived.length > 0 ? `(to_jsonb(t) - ARRAY[${spec.derived.map((c) => `'${c}'`).join(', ')}])` : 'to_jsonb(t)';
  const order = key === '' ? '' : `ORDER BY ${key}`;
  return `SELECT '{"table":"${spec.name}","row":' || ${row}::text || '}' AS line${keyText ? `, ${keyText}` : ''}
            FROM ${spec.name} t
           ${afterKey ? `WHERE (${key}) > (${placeholders})` : ''}
           ${order} LIMIT ${EXPORT_CHUNK}`;
}

/** Runs `work` in a transaction as the exported user (one per chunk). */
export type AsUser = <T>(work: (tx: Transaction) => Promise<T>) => Promise<T>;

/** A transaction as the exported user, in the snapshot `snapshot` when given. */
export type AsUserIn = <T>(work: (tx: Transaction) => Promise<T>, snapshot: string | undefined) => Promise<T>;

export interface ConsistentReads {
  /** The export's chunk transactions: all in one snapshot on a server, taken at the first. */
  asUser: AsUser;
  /** End the held snapshot and close its connection (when the export ends, fails or its reader goes away); idempotent. */
  close(): Promise<void>;
}

/** The reads of one export: in one snapshot where the database can hold one (a server). */
export function consistentReads(db: Pick<Database, 'exportSnapshot'>, asUserIn: AsUserIn): ConsistentReads {
  // Embedded: PGlite has one connection, and a transaction held for the whole export would block
  // every other writer; each chunk reads in its own transaction.
  if (!db.exportSnapshot) return { asUser: (work) => asUserIn(work, undefined), close: async () => {} };
  const exportSnapshot = db.exportSnapshot.bind(db);
  let held: Promise<HeldSnapshot> | null = null;
  let closed = false;
  return {
    async asUser(work) {
      if (closed) throw new Error('this export has ended: its snapshot is released');
      held ??= exportSnapshot();
      return asUserIn(work, (await held).id);
    },
    async close() {
      closed = true;
      const snapshot = await held?.catch(() => null);
      await snapshot?.release();
    },
  };
}

/** One table's lines, a chunk of up to EXPORT_CHUNK rows at a time (a chunk: its lines, each ending in a newline). */
export async function* tableLines(spec: ExportedTable, asUser: AsUser): AsyncGenerator<{ lines: string; rows: number }> {
  let after: string[] | null = null;
  for (;;) {
    const params: string[] | null = after;
    const chunk: QueryResult<Record<string, string>> = await asUser((tx) => tx.query<Record<string, string>>(chunkQuery(spec, params !== null), params ?? []));
    if (chunk.rows.length === 0) break;
    yield { lines: `${chunk.rows.map((r) => r.line).join('\n')}\n`, rows: chunk.rows.length };
    // A table keyed by user_id alone (the user's own row) has one row: no next chunk.
    if (chunk.rows.length < EXPORT_CHUNK || spec.key.length === 0) break;
    const last = chunk.rows.at(-1)!;
    after = spec.key.map((_, i) => last[`k${i}`]!);
  }
}

/**
 * The lines of a user's export. `db`: the maintenance connection, which finds the tables in the
 * catalog (no user data); `asUser`: a transaction as the user, one per chunk.
 */
export async function* exportLines(db: Queryable, asUser: AsUser): AsyncGenerator<string> {
  const counts: Record<string, number> = {};
  for (const spec of await userTables(db)) {
    counts[spec.name] = 0;
    for await (const chunk of tableLines(spec, asUser)) {
      counts[spec.name]! += chunk.rows;
      yield chunk.lines;
    }
  }
  yield `${JSON.stringify({ complete: true, rows: counts })}\n`;
}

/** Foreign keys between tables of user data: [child, parent], as the catalog has them. */
export async function foreignKeys(db: Queryable): Promise<{ child: string; parent: string }[]> {
  const edges = await db.query<{ child: string; parent: string }>(
    `SELECT format('%s.%s', cn.nspname, cc.relname) AS child, format('%s.%s', pn.nspname, pc.relname) AS parent
       FROM pg_constraint k
       JOIN pg_class cc ON cc.oid = k.conrelid JOIN pg_namespace cn ON cn.oid = cc.relnamespace
       JOIN pg_class pc ON pc.oid = k.confrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
      WHERE k.contype = 'f' AND k.conrelid <> k.confrelid`,
  );
  return edges.rows;
}

/** The tables in an order that has every table after the tables it references (erasure deletes in the reverse order). */
export async function loadOrder<T extends { name: string }>(db: Queryable, tables: readonly T[]): Promise<T[]> {
  const known = new Set(tables.map((t) => t.name));
  const parentsOf = new Map<string, Set<string>>();
  for (const { child, parent } of await foreignKeys(db)) {
    if (!known.has(child) || !known.has(parent)) continue;
    if (!parentsOf.has(child)) parentsOf.set(child, new Set());
    parentsOf.get(child)!.add(parent);
  }
  const left = [...tables];
  const order: T[] = [];
  while (left.length > 0) {
    // A table goes once every table it references has gone (a cycle: the first left, as erasure does).
    const i = left.findIndex((t) => ![...(parentsOf.get(t.name) ?? [])].some((parent) => left.some((l) => l.name === parent)));
    order.push(...left.splice(i === -1 ? 0 : i, 1));
  }
  return order;
}
