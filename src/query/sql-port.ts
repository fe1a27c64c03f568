// `lake serve --pg-port`: PostgreSQL's wire protocol for the embedded database, so that psql and
// other clients reach an embedded lake as one user's login role (issue 17), read-only.
//
// Why not @electric-sql/pglite-socket as it is: it relays every client's bytes into PGlite's one
// session, whose login is PostgreSQL's superuser, without authentication, so any client could
// RESET ROLE and read everything. Here the lake speaks the protocol itself:
//   * 127.0.0.1 only. A client logs in as a lake login role (`lake users sql-access NAME`) with its
//     password, sent in clear text over the loopback and checked against the role's stored
//     SCRAM-SHA-256 verifier (PGlite has no authentication of its own).
//   * Each simple-protocol query is one statement that returns rows. It is described first, as the
//     role (Parse and Describe, nothing runs), then run inside a SECURITY DEFINER function owned by
//     the role, in a transaction of its own. Within a SECURITY DEFINER function PostgreSQL refuses
//     SET ROLE, SET SESSION AUTHORIZATION and set_config of either, however they are reached
//     (dynamic SQL, other functions), and a function cannot end its transaction: the statement
//     runs as the role, bound by row-level security, with no way back to the session's superuser.
//   * Not supported: the extended query protocol (prepared statements, parameters), COPY,
//     transactions across queries, SET. psql works; tools that need more (GDAL/QGIS open
//     cursors, Grafana prepares statements) need a PostgreSQL server.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import type { Transaction } from '../db/database.js';
import type { Lake } from '../lake.js';
import { checkScramPassword, sqlRoleVerifier } from './sql-access.js';

const PROTOCOL_3 = 196608;
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const MAX_MESSAGE = 64 * 1024 * 1024;

export interface SqlPort {
  port: number;
  close(): Promise<void>;
}

/** The PGlite instance under an embedded lake (the adapter keeps it as `pg`). */
function pgliteOf(lake: Lake): PGlite {
  const pg = (lake.db as unknown as { pg?: PGlite }).pg;
  if (lake.db.backend !== 'embedded' || !pg || typeof pg.execProtocolRaw !== 'function') {
    throw new Error('the SQL port serves the embedded database only: connect SQL clients to the PostgreSQL server itself');
  }
  return pg;
}

export async function startSqlPort(lake: Lake, port: number, host = '127.0.0.1'): Promise<SqlPort> {
  const pg = pgliteOf(lake);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    new Connection(lake, pg, socket).start();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// Messages

function message(type: string, body: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

function cstr(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

function errorMessage(code: string, text: string, severity = 'ERROR'): Buffer {
  return message('E', Buffer.concat([cstr(`S${severity}`), cstr(`V${severity}`), cstr(`C${code}`), cstr(`M${text}`), Buffer.from([0])]));
}

const ready = () => message('Z', Buffer.from('I'));

interface Backend {
  type: string;
  body: Buffer;
  raw: Buffer;
}

/** Split a backend byte stream into its messages. */
function split(data: Uint8Array): Backend[] {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const out: Backend[] = [];
  let at = 0;
  while (at + 5 <= buf.length) {
    const len = buf.readInt32BE(at + 1);
    out.push({ type: String.fromCharCode(buf[at]!), body: buf.subarray(at + 5, at + 1 + len), raw: buf.subarray(at, at + 1 + len) });
    at += 1 + len;
  }
  return out;
}

interface Column {
  name: string;
  typeOid: number;
  typmod: number;
}

function rowDescription(body: Buffer): Column[] {
  const n = body.readInt16BE(0);
  const columns: Column[] = [];
  let at = 2;
  for (let i = 0; i < n; i++) {
    const end = body.indexOf(0, at);
    const name = body.toString('utf8', at, end);
    at = end + 1;
    columns.push({ name, typeOid: body.readInt32BE(at + 6), typmod: body.readInt32BE(at + 12) });
    at += 18;
  }
  return columns;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Thrown to end the query's transaction with ROLLBACK: a read-only query keeps nothing, not even settings. */
class Done extends Error {}

class Refused extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------
// One client

class Connection {
  private buffer = Buffer.alloc(0);
  private started = false;
  private role: string | null = null;
  private authenticated = false;
  private skipUntilSync = false;
  private busy: Promise<void> = Promise.resolve();

  constructor(
    private readonly lake: Lake,
    private readonly pg: PGlite,
    private readonly socket: net.Socket,
  ) {}

  start(): void {
    this.socket.on('data', (chunk) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.busy = this.busy.then(() => this.drain()).catch(() => {
        this.socket.destroy();
      });
    });
    this.socket.on('error', () => this.socket.destroy());
  }

  private send(...parts: Buffer[]): void {
    if (!this.socket.destroyed) this.socket.write(Buffer.concat(parts));
  }

  private fatal(code: string, text: string): void {
    this.send(errorMessage(code, text, 'FATAL'));
    this.socket.end();
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (!this.started) {
        if (this.buffer.length < 8) return;
        const len = this.buffer.readInt32BE(0);
        if (len < 8 || len > 10_000) return this.fatal('08P01', 'invalid startup packet');
        if (this.buffer.length < len) return;
        const packet = this.buffer.subarray(0, len);
        this.buffer = this.buffer.subarray(len);
        const code = packet.readInt32BE(4);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          this.socket.write('N');
          continue;
        }
        if (code === CANCEL_REQUEST) return void this.socket.end();
        if (code !== PROTOCOL_3) return this.fatal('0A000', 'unsupported frontend protocol');
        const params = packet.subarray(8).toString('utf8').split('\0');
        const user = params[params.indexOf('user') + 1];
        if (!params.includes('user') || !user) return this.fatal('28000', 'no user name: log in as a lake login role (lake users sql-access NAME)');
        this.role = user;
        this.started = true;
        this.send(message('R', int32(3)));
        continue;
      }
      if (this.buffer.length < 5) return;
      const len = this.buffer.readInt32BE(1);
      if (len < 4 || len > MAX_MESSAGE) return this.fatal('08P01', 'invalid message length');
      if (this.buffer.length < 1 + len) return;
      const type = String.fromCharCode(this.buffer[0]!);
      const body = this.buffer.subarray(5, 1 + len);
      this.buffer = this.buffer.subarray(1 + len);
      if (!this.authenticated) {
        if (type !== 'p') return this.fatal('08P01', 'expected a password message');
        await this.authenticate(body.toString('utf8').replace(/\0$/, ''));
        if (!this.authenticated) return;
        continue;
      }
      if (type === 'X') return void this.socket.end();
      if (type === 'Q') {
        await this.query(body.toString('utf8').replace(/\0$/, ''));
        continue;
      }
      if (type === 'S') {
        this.skipUntilSync = false;
        this.send(ready());
        continue;
      }
      if (this.skipUntilSync) continue;
      // Parse, Bind, Describe, Execute, Close, Flush, FunctionCall, COPY data: refused.
      this.send(errorMessage('0A000', "the lake's SQL port speaks the simple query protocol only (no prepared statements, parameters or COPY)"));
      if (type === 'F') this.send(ready());
      else this.skipUntilSync = true;
    }
  }

  private async authenticate(password: string): Promise<void> {
    const role = this.role!;
    const verifier = await sqlRoleVerifier(this.lake.db, role);
    if (!verifier || !checkScramPassword(password, verifier)) {
      return this.fatal('28P01', `password authentication failed for user "${role}"`);
    }
    this.authenticated = true;
    const status = (name: string, value: string) => message('S', Buffer.concat([cstr(name), cstr(value)]));
    const version = (await this.lake.db.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]!.v;
    this.send(
      message('R', int32(0)),
      status('server_version', version),
      status('server_encoding', 'UTF8'),
      status('client_encoding', 'UTF8'),
      status('DateStyle', 'ISO, MDY'),
      status('integer_datetimes', 'on'),
      status('standard_conforming_strings', 'on'),
      status('session_authorization', role),
      status('TimeZone', 'UTC'),
      message('K', Buffer.concat([int32(process.pid), randomBytes(4)])),
      ready(),
    );
  }

  /** One simple-protocol query, as the role: described, then run inside its SECURITY DEFINER function. */
  private async query(sql: string): Promise<void> {
    if (sql.trim().replace(/;+\s*$/, '') === '') {
      this.send(message('I'), ready());
      return;
    }
    const role = this.role!;
    const out: Buffer[] = [];
    try {
      await this.lake.db.transaction(async (tx) => {
        // A query holds PGlite, the API's requests included, while it runs: never without a limit.
        await tx.query(`SET LOCAL statement_timeout = ${this.lake.config.statementTimeoutMs > 0 ? this.lake.config.statementTimeoutMs : 300_000}`);
        await tx.query(`SET LOCAL ROLE ${quoteIdent(role)}`);
        // Described as the role: one statement, its columns; nothing runs.
        const parse = Buffer.concat([cstr(''), cstr(sql), Buffer.from([0, 0])]);
        const described = split(
          await this.pg.runExclusive(() =>
            this.pg.execProtocolRaw(Buffer.concat([message('P', parse), message('D', Buffer.concat([Buffer.from('S'), cstr('')])), message('S')]), {
              syncToFs: false,
            }),
          ),
        );
        const error = described.find((m) => m.type === 'E');
        if (error) {
          out.push(error.raw);
          throw new Refused('', '');
        }
        const params = described.find((m) => m.type === 't');
        if (params && params.body.readInt16BE(0) > 0) throw new Refused('0A000', 'parameters ($1...) need the extended protocol, which this port does not speak');
        const description = described.find((m) => m.type === 'T');
        if (!description) throw new Refused('0A000', "the lake's SQL port runs queries that return rows only (SELECT, WITH, VALUES, TABLE)");
        const columns = rowDescription(description.body);
        const types = await tx.query<{ t: string }>(`SELECT format_type(o, m) AS t FROM unnest($1::oid[], $2::int[]) WITH ORDINALITY AS c(o, m, i) ORDER BY i`, [
          columns.map((c) => c.typeOid),
          columns.map((c) => c.typmod),
        ]);
        const fn = await this.definerFunction(tx, role);
        const list = types.rows.map((r, i) => `c${i + 1} ${r.t}`).join(', ');
        const run = `SELECT * FROM pg_temp.${quoteIdent(fn)}(${quoteLiteral(sql)}) AS t(${list})`;
        const ran = split(await this.pg.runExclusive(() => this.pg.execProtocolRaw(message('Q', cstr(run)), { syncToFs: false })));
        const failed = ran.find((m) => m.type === 'E');
        if (failed) {
          out.push(failed.raw);
          throw new Refused('', '');
        }
        out.push(description.raw);
        for (const m of ran) if (m.type === 'D' || m.type === 'C' || m.type === 'N') out.push(m.raw);
        throw new Done();
      });
    } catch (error) {
      if (error instanceof Done) {
        // Rolled back: whatever the query set (search_path, statement_timeout...) is gone with it.
      } else if (!(error instanceof Refused)) out.push(errorMessage('XX000', error instanceof Error ? error.message : String(error)));
      else if (error.code) out.push(errorMessage(error.code, error.message));
    }
    this.send(...out, ready());
  }

  /**
   * The role's SECURITY DEFINER function that runs a query text: made by the superuser in this
   * transaction (rolled back with it), temporary, owned by the role so that it runs as the role,
   * and executable by no one else.
   */
  private async definerFunction(tx: Transaction, role: string): Promise<string> {
    const name = `lake_sql_run_${role}`;
    const fn = `pg_temp.${quoteIdent(name)}`;
    await tx.query(`RESET ROLE`);
    await tx.query(
      `CREATE FUNCTION ${fn}(query text) RETURNS SETOF record LANGUAGE plpgsql SECURITY DEFINER AS $$ BEGIN RETURN QUERY EXECUTE query; END $$`,
    );
    await tx.query(`REVOKE ALL ON FUNCTION ${fn}(text) FROM PUBLIC`);
    await tx.query(`ALTER FUNCTION ${fn}(text) OWNER TO ${quoteIdent(role)}`);
    await tx.query(`SET LOCAL ROLE ${quoteIdent(role)}`);
    return name;
  }
}
