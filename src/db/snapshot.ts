// A plain-text description of the lake's schema: tables, columns, constraints, indexes, RLS,
// policies, grants and functions, in a stable order. Committed as schema-snapshot.txt so every
// schema change shows in review; a test compares a freshly migrated database with it. Partitions
// and TimescaleDB chunks are left out (they depend on the data and the backend), as is whether a
// time table is a hypertable or natively partitioned.
import type { Database, Queryable } from './database.js';

export const SNAPSHOT_FILE = new URL('./schema-snapshot.txt', import.meta.url);
export const LAKE_SCHEMAS = ['lake', 'imports', 'user_data', 'timeseries', 'vectors', 'analytics', 'archive', 'audit'];

const TABLES = `
  SELECT c.oid, format('%I.%I', n.nspname, c.relname) AS name, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p') AND NOT c.relispartition
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
   ORDER BY 2`;

export function schemaSnapshot(db: Database): Promise<string> {
  return db.transaction(async (tx) => {
    // Expressions print with schema names only when off the search path: fix it for stable text.
    await tx.query(`SET LOCAL search_path = pg_catalog`);
    return describe(tx);
  });
}

async function describe(db: Queryable): Promise<string> {
  const out: string[] = [];
  const tables = await db.query<{ oid: number; name: string; rls: boolean; forced: boolean }>(TABLES, [LAKE_SCHEMAS]);
  for (const table of tables.rows) {
    out.push(`table ${table.name}${table.rls ? ' rls' : ''}${table.forced ? ' forced' : ''}`);
    const columns = await db.query<{ line: string }>(
      `SELECT format('  column %s %s%s%s%s', a.attname, format_type(a.atttypid, a.atttypmod),
                     CASE WHEN a.attnotnull THEN ' not null' ELSE '' END,
                     CASE WHEN a.attidentity <> '' THEN ' identity' ELSE '' END,
                     CASE WHEN a.attgenerated = 's' THEN ' generated ' || pg_get_expr(d.adbin, d.adrelid)
                          WHEN d.adbin IS NOT NULL AND a.attidentity = '' THEN ' default ' || pg_get_expr(d.adbin, d.adrelid)
                          ELSE '' END) AS line
         FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
      [table.oid],
    );
    const constraints = await db.query<{ line: string }>(
      `SELECT format('  constraint %s', pg_get_constraintdef(oid)) AS line FROM pg_constraint
        WHERE conrelid = $1 AND contype <> 'n' ORDER BY contype, pg_get_constraintdef(oid)`,
      [table.oid],
    );
    const indexes = await db.query<{ line: string }>(
      `SELECT format('  index %s', replace(pg_get_indexdef(indexrelid), ' ON ONLY ', ' ON ')) AS line
         FROM pg_index WHERE indrelid = $1 ORDER BY 1`,
      [table.oid],
    );
    const policies = await db.query<{ line: string }>(
      `SELECT format('  policy %s for %s using %s check %s', polname, polcmd,
                     pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid)) AS line
         FROM pg_policy WHERE polrelid = $1 ORDER BY polname`,
      [table.oid],
    );
    const grants = await db.query<{ line: string }>(
      `SELECT format('  grant %s to %s%s', string_agg(privilege_type, ', ' ORDER BY privilege_type), grantee,
                     '') AS line
         FROM (SELECT (aclexplode(relacl)).privilege_type, pg_get_userbyid((aclexplode(relacl)).grantee) AS grantee
                 FROM pg_class WHERE oid = $1) g
        WHERE grantee = 'lake_app' GROUP BY grantee`,
      [table.oid],
    );
    const columnGrants = await db.query<{ line: string }>(
      `SELECT format('  grant %s (%s) to lake_app', privilege_type, string_agg(attname, ', ' ORDER BY attname)) AS line
         FROM (SELECT a.attname, (aclexplode(a.attacl)).privilege_type, pg_get_userbyid((aclexplode(a.attacl)).grantee) AS grantee
                 FROM pg_attribute a WHERE a.attrelid = $1 AND a.attacl IS NOT NULL) g
        WHERE grantee = 'lake_app' GROUP BY privilege_type ORDER BY 1`,
      [table.oid],
    );
    for (const part of [columns, constraints, indexes, policies, grants, columnGrants]) out.push(...part.rows.map((r) => r.line));
  }
  const functions = await db.query<{ line: string }>(
    `SELECT format('function %I.%I(%s) returns %s%s', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid),
                   pg_get_function_result(p.oid), CASE WHEN has_function_privilege('lake_app', p.oid, 'EXECUTE') THEN ' executable by lake_app' ELSE '' END) AS line
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = ANY($1) AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
      ORDER BY 1`,
    [LAKE_SCHEMAS],
  );
  out.push(...functions.rows.map((r) => r.line));
  return `${out.join('\n')}\n`;
}
