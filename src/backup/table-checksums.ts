// Every table's row count and a checksum of its rows, to prove that a restored copy holds what the
// backup saw. The checksum is the sum of each row's MD5 (its first 60 bits as a number): it does
// not depend on the order rows are read in, and costs one scan and no sort.
import type { Config } from '../config/config.js';
import type { Database, Queryable } from '../db/database.js';

export interface TableChecksum {
  rows: number;
  /** Decimal sum of the rows' hashes. */
  checksum: string;
}

/**
 * The lake's tables: every ordinary table (partitions included, their parents not, so no row is
 * counted twice) in schemas that are not PostgreSQL's or an extension's, and no table an
 * extension owns (PostGIS's spatial_ref_sys); each with the paths of its files (main relation and
 * TOAST relation, relative to the data directory), which hold all of its rows.
 */
export async function lakeTableFiles(db: Queryable): Promise<{ name: string; files: string[] }[]> {
  const result = await db.query<{ name: string; main: string; toast: string | null }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS name, pg_relation_filepath(c.oid) AS main,
            pg_relation_filepath(NULLIF(c.reltoastrelid, 0)) AS toast
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
      ORDER BY 1`,
  );
  return result.rows.map((r) => ({ name: r.name, files: r.toast ? [r.main, r.toast] : [r.main] }));
}

export async function lakeTables(db: Queryable): Promise<string[]> {
  return (await lakeTableFiles(db)).map((t) => t.name);
}

/** Row count and checksum of each table (`only` these, or all the lake's). */
export async function tableChecksums(db: Queryable, only?: readonly string[]): Promise<Record<string, TableChecksum>> {
  const checksums: Record<string, TableChecksum> = {};
  for (const table of only ?? (await lakeTables(db))) {
    const { rows } = await db.query<{ rows: number; checksum: string }>(
      `SELECT count(*)::bigint AS rows, coalesce(sum(('x' || left(md5(t::text), 15))::bit(60)::bigint), 0)::text AS checksum FROM ${table} t`,
    );
    checksums[table] = { rows: Number(rows[0]!.rows), checksum: rows[0]!.checksum };
  }
  return checksums;
}

/** The tables whose rows or checksum differ, described for a message; empty when all match. */
export function checksumDifferences(expected: Record<string, TableChecksum>, actual: Record<string, TableChecksum>): string[] {
  const differences: string[] = [];
  for (const [table, want] of Object.entries(expected)) {
    const got = actual[table];
    if (!got) differences.push(`${table} is missing`);
    else if (got.rows !== want.rows) differences.push(`${table} has ${got.rows} rows, the backup recorded ${want.rows}`);
    else if (got.checksum !== want.checksum) differences.push(`${table}'s rows differ from the backup's (checksum ${got.checksum}, recorded ${want.checksum})`);
  }
  for (const table of Object.keys(actual)) if (!(table in expected)) differences.push(`${table} is not in the backup's record`);
  return differences;
}

/** Open the embedded database files in `directory` (a copy, a restore, a scratch directory) for `work`, and close them. */
export async function withDatabaseCopy<T>(
  directory: string,
  config: Pick<Config, 'workMem' | 'maintenanceWorkMem' | 'statementTimeoutMs' | 'cacheDir'>,
  work: (db: Database) => Promise<T>,
): Promise<T> {
  const { openEmbedded } = await import('../db/adapters/embedded.js');
  const db = await openEmbedded({
    directory,
    cacheDir: config.cacheDir,
    session: { workMem: config.workMem, maintenanceWorkMem: config.maintenanceWorkMem, statementTimeoutMs: config.statementTimeoutMs },
  });
  try {
    return await work(db);
  } finally {
    await db.close();
  }
}
