// `lake sql` and `lake users sql-access`: SQL as one user, through that user's login role
// (src/query/sql-access.ts), with `-c` or at a psql-like prompt.
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import pg from 'pg';
import type { Config } from '../config/config.js';
import { LakeError } from '../errors.js';
import { Lake } from '../lake.js';
import { asSqlRole, grantSqlAccess, revokeSqlAccess, sqlRoleOf } from '../query/sql-access.js';
import { printJson } from './output.js';

export async function sqlAccessCommand(settings: Config, name: string, options: { revoke?: boolean; json?: boolean }): Promise<void> {
  const lake = await Lake.open(settings, { brief: true });
  try {
    if (options.revoke) {
      const { role } = await revokeSqlAccess(lake.db, name);
      if (options.json) return printJson({ user: name, role, revoked: role !== null });
      console.log(role ? `dropped the login role ${role}: ${name} has no SQL access` : `${name} had no SQL access`);
      return;
    }
    const access = await grantSqlAccess(lake.db, name);
    const url = lake.db.backend === 'server' ? roleUrl(settings.databaseUrl!, access.role, null) : null;
    if (options.json) return printJson({ user: access.userName, role: access.role, password: access.password, url });
    console.log(access.password);
    process.stderr.write(
      `lake: SQL password of ${access.role} (user ${name}): store it now, it is not shown again\n` +
        (url ? `lake: connect with psql "${url}"\n` : 'lake: connect with lake sql --user NAME, or lake serve --pg-port PORT\n'),
    );
  } finally {
    await lake.close();
  }
}

interface SqlOptions {
  user: string;
  command?: string;
  passwordFile?: string;
  json?: boolean;
}

/** One statement's answer: column names and rows as arrays (text as the server sent it). */
interface Answer {
  command: string;
  fields: string[];
  rows: unknown[][];
  rowCount: number | null;
}

type Runner = (sql: string) => Promise<Answer[]>;

export async function sqlCommand(settings: Config, options: SqlOptions): Promise<void> {
  const lake = await Lake.open(settings, { brief: true });
  let client: pg.Client | null = null;
  try {
    const role = await sqlRoleOf(lake.db, options.user);
    let run: Runner;
    if (lake.db.backend === 'server') {
      // A session of the user's own: the server checks the password and the role fixes the identity.
      const password = options.passwordFile ? (await readFile(options.passwordFile, 'utf8')).trim() : await promptPassword(role);
      client = new pg.Client({ connectionString: roleUrl(settings.databaseUrl!, role, password) });
      await client.connect().catch((error: Error) => {
        throw new LakeError('USAGE', `cannot log in as ${role}: ${error.message}`);
      });
      const connected = client;
      run = async (sql) => {
        const result = (await connected.query({ text: sql, rowMode: 'array' })) as unknown as pg.QueryResult | pg.QueryResult[];
        return (Array.isArray(result) ? result : [result]).map((r) => ({
          command: r.command,
          fields: (r.fields ?? []).map((f) => f.name),
          rows: r.rows as unknown[][],
          rowCount: r.rowCount,
        }));
      };
    } else {
      // Embedded: one statement a call (PGlite's extended protocol), in a transaction as the role.
      run = (sql) =>
        asSqlRole(lake.db, role, async (tx) => {
          const r = await tx.query<Record<string, unknown>>(sql);
          const fields = r.rows[0] ? Object.keys(r.rows[0]) : [];
          return [{ command: '', fields, rows: r.rows.map((row) => fields.map((f) => row[f])), rowCount: r.rowCount }];
        });
    }
    if (options.command !== undefined) {
      const answers = await run(options.command);
      if (options.json) printJson(answers.map((a) => a.rows.map((row) => Object.fromEntries(a.fields.map((f, i) => [f, row[i]])))));
      else for (const a of answers) process.stdout.write(formatAnswer(a));
      return;
    }
    await prompt(role, run);
  } finally {
    await client?.end().catch(() => {});
    await lake.close();
  }
}

/** The server URL with another role and password (or none). */
function roleUrl(databaseUrl: string, role: string, password: string | null): string {
  const url = new URL(databaseUrl);
  url.username = encodeURIComponent(role);
  url.password = password === null ? '' : encodeURIComponent(password);
  return url.toString();
}

async function promptPassword(role: string): Promise<string> {
  if (!process.stdin.isTTY) throw new LakeError('USAGE', `the password of ${role} is needed: give --password-file FILE (not on a terminal)`);
  process.stderr.write(`Password for ${role}: `);
  process.stdin.setRawMode(true);
  let typed = '';
  try {
    for await (const chunk of process.stdin) {
      for (const ch of String(chunk)) {
        if (ch === '\r' || ch === '\n') return typed;
        if (ch === '\u0003') throw new LakeError('USAGE', 'interrupted');
        if (ch === '\u007f') typed = typed.slice(0, -1);
        else typed += ch;
      }
    }
    return typed;
  } finally {
    process.stdin.setRawMode(false);
    process.stderr.write('\n');
  }
}

/** A psql-like prompt: statements end with `;`, `\q` quits. */
async function prompt(role: string, run: Runner): Promise<void> {
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY });
  let buffer = '';
  const promptText = () => (buffer ? `${role}-> ` : `${role}=> `);
  rl.setPrompt(promptText());
  rl.prompt();
  for await (const line of rl) {
    if (!buffer && /^\s*\\q\s*$/.test(line)) break;
    buffer += (buffer ? '\n' : '') + line;
    if (/;\s*$/.test(buffer)) {
      const sql = buffer;
      buffer = '';
      try {
        for (const a of await run(sql)) process.stdout.write(formatAnswer(a));
      } catch (error) {
        process.stdout.write(`ERROR:  ${error instanceof Error ? error.message : String(error)}\n`);
      }
    }
    rl.setPrompt(promptText());
    rl.prompt();
  }
  rl.close();
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return `\\x${Buffer.from(value).toString('hex')}`;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Aligned columns and a row count, as psql prints them. */
export function formatAnswer(a: Answer): string {
  if (a.fields.length === 0) return a.command ? `${a.command}${a.rowCount !== null ? ` ${a.rowCount}` : ''}\n` : `(${a.rowCount ?? 0} rows)\n`;
  const cells = a.rows.map((row) => row.map(cell));
  const widths = a.fields.map((f, i) => Math.max(f.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) => ` ${values.map((v, i) => v.padEnd(widths[i]!)).join(' | ')}`.trimEnd();
  const out = [line(a.fields.map((f, i) => f.padStart(Math.floor((widths[i]! + f.length) / 2)))), widths.map((w) => '-'.repeat(w + 2)).join('+')];
  for (const r of cells) out.push(line(r));
  out.push(`(${cells.length} ${cells.length === 1 ? 'row' : 'rows'})`);
  return `${out.join('\n')}\n\n`;
}
