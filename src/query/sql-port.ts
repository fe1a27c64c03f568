// `lake serve --pg-port`: PostgreSQL's wire protocol for the embedded database, so that psql, GDAL/QGIS,
// Grafana and other clients reach an embedded lake as one user's login role (issue 17), read-only.
//
// Why not @electric-sql/pglite-socket as it is: it relays every client's bytes into PGlite's one
// session, whose login is PostgreSQL's superuser, without authentication, so any client could
// RESET ROLE and read everything. Here the lake speaks the protocol itself:
//   * 127.0.0.1 only. A client logs in as a lake login role (`lake users sql-access NAME`) with its
//     password, sent in clear text over the loopback and checked against the role's stored
//     SCRAM-SHA-256 verifier (PGlite has no authentication of its own).
//   * Each query is one statement that returns rows. It is described first, as the role (Parse and
//     Describe, nothing runs), then run inside a SECURITY DEFINER function owned by the role, in a
//     transaction of its own that is rolled back. Within a SECURITY DEFINER function PostgreSQL
//     refuses SET ROLE, SET SESSION AUTHORIZATION and set_config of either, however they are
//     reached (dynamic SQL, other functions), and a function cannot end its transaction: the
//     statement runs as the role, bound by row-level security, with no way back to the session's
//     superuser.
//   * The extended query protocol (Parse/Bind/Describe/Execute/Close/Sync/Flush) is spoken: the
//     port keeps the statements and portals itself (nothing is prepared in PGlite's session), and a
//     statement's parameters reach the query as typed arguments of the definer function, passed on
//     by EXECUTE ... USING, never written into its text. Text and binary parameters and results.
//   * Sessions are emulated, not kept in PGlite: BEGIN/COMMIT/ROLLBACK scope cursors and SET LOCAL
//     only (every statement is rolled back: there is nothing to commit); DECLARE ... CURSOR runs its
//     query at once, as the role, and keeps its rows (at most 1 million rows, 64 MiB for all the
//     connection's cursors and unfinished portals, 128 MiB for all connections) for FETCH;
//     SET/RESET/SHOW of an allow-list of harmless settings, applied with set_config as the role
//     before each statement; never the role or the session's authorization.
//   * Not supported: COPY, FunctionCall, writes, backward or scrolling cursors, LISTEN.
//   * Bounded: one statement's result is at most 32 MiB (SQLSTATE 54000 beyond: LIMIT or a cursor),
//     fetched from PGlite in batches and kept as a few large buffers, never an object per row (a
//     million rows would fill a 192 MB heap). Before login a message is at most 8 KB. Messages are
//     assembled with each byte copied once; a client that does not read its answers is not read.
//   * What a role's statement leaves in PGlite's one session is undone before the next: the
//     statement runs in a savepoint rolled back at its end (settings, temporary objects, SET
//     LOCAL, cursors), then, as the superuser, pg_advisory_unlock_all() and DEALLOCATE ALL (session
//     locks and prepared statements outlive a rollback). Migration 0028 also keeps advisory locks,
//     pg_sleep, TEMPORARY and the lake's DDL helpers from login roles.
//   * Not bounded in time: PGlite cannot interrupt a query (statement_timeout has no effect there),
//     and the lake's own requests wait for it: a long query stalls the API until it ends.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import type { Transaction } from '../db/database.js';
import { drainedOrClosed } from '../drained.js';
import type { Lake } from '../lake.js';
import { checkScramPassword, sqlRoleVerifier } from './sql-access.js';

const PROTOCOL_3 = 196608;
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const MAX_MESSAGE = 64 * 1024 * 1024;
/** Before authentication (startup packet, password): a few KB are all a login needs. */
const PRE_AUTH_MAX = 8192;
/** Input kept while a message is being handled; beyond, the socket is paused until it is. */
const INPUT_HIGH = 4 * 1024 * 1024;
/** Output not yet taken by the client: beyond, no further message is handled until it drains. */
const OUTPUT_HIGH = 4 * 1024 * 1024;
/** About this many bytes of rows per Execute on PGlite (its answer is one buffer). */
const BATCH_BYTES = 4 * 1024 * 1024;
const MIB = 1024 * 1024;

function size(bytes: number): string {
  return bytes >= MIB ? `${Math.round(bytes / MIB)} MiB` : `${bytes} bytes`;
}

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

export async function startSqlPort(lake: Lake, port: number, host = '127.0.0.1', limits: Partial<SqlPortLimits> = {}): Promise<SqlPort> {
  const pg = pgliteOf(lake);
  const sockets = new Set<net.Socket>();
  const connections = new Set<Connection>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const connection = new Connection(lake, pg, socket, { ...DEFAULT_LIMITS, ...limits }, connections);
    connections.add(connection);
    socket.on('close', () => {
      sockets.delete(socket);
      connection.closed();
      connections.delete(connection);
    });
    connection.start();
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

interface Backend {
  type: string;
  body: Buffer;
  raw: Buffer;
}

/**
 * DataRow messages as a few large buffers, not an object per row, and a read position: what a
 * portal has sent, what a cursor has fetched.
 */
class Rows {
  private readonly chunks: Buffer[] = [];
  count = 0;
  bytes = 0;
  taken = 0;
  private chunk = 0;
  private offset = 0;

  add(run: Buffer, rows: number): void {
    this.chunks.push(run);
    this.count += rows;
    this.bytes += run.length;
  }

  get remaining(): number {
    return this.count - this.taken;
  }

  /** The next `n` rows (Infinity: all), as buffers to write. */
  take(n: number): Buffer[] {
    const out: Buffer[] = [];
    let left = Math.min(n, this.remaining);
    while (left > 0) {
      const c = this.chunks[this.chunk]!;
      let end = this.offset;
      while (left > 0 && end < c.length) {
        end += 1 + c.readInt32BE(end + 1);
        left--;
        this.taken++;
      }
      out.push(c.subarray(this.offset, end));
      if (end >= c.length) {
        this.chunks[this.chunk] = EMPTY; // sent: no longer held
        this.chunk++;
        this.offset = 0;
      } else this.offset = end;
    }
    return out;
  }

  /** Bytes not yet taken. */
  get held(): number {
    let held = 0;
    for (let i = this.chunk; i < this.chunks.length; i++) held += this.chunks[i]!.length;
    return held - this.offset;
  }
}
const EMPTY = Buffer.alloc(0);

/** One answer of PGlite to Parse/Bind/Execute/Sync, read without an object per row. */
interface Step {
  runs: { data: Buffer; rows: number }[];
  rows: number;
  bytes: number;
  error: Buffer | null;
  notices: Buffer[];
  complete: boolean;
}

function scan(data: Uint8Array): Step {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const step: Step = { runs: [], rows: 0, bytes: 0, error: null, notices: [], complete: false };
  let at = 0;
  let run = -1;
  let runRows = 0;
  const flush = (end: number) => {
    if (run < 0) return;
    // A copy: the answer's buffer is PGlite's, and the rest of it is not kept.
    step.runs.push({ data: Buffer.from(buf.subarray(run, end)), rows: runRows });
    step.bytes += end - run;
    run = -1;
    runRows = 0;
  };
  while (at + 5 <= buf.length) {
    const type = buf[at]!;
    const end = at + 1 + buf.readInt32BE(at + 1);
    if (type === 0x44) {
      // D: DataRow
      if (run < 0) run = at;
      runRows++;
      step.rows++;
    } else {
      flush(at);
      if (type === 0x45) step.error ??= Buffer.from(buf.subarray(at, end));
      else if (type === 0x4e) step.notices.push(Buffer.from(buf.subarray(at, end)));
      else if (type === 0x43) step.complete = true;
    }
    at = end;
  }
  flush(at);
  return step;
}

/** Received bytes, assembled into messages with each byte copied at most once. */
class Inbox {
  private chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** The first `n` bytes (n <= length), left in place. */
  peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!.subarray(0, n);
    const head = this.take(n);
    this.chunks.unshift(head);
    this.length += n;
    return head;
  }

  /** The first `n` bytes (n <= length), removed. */
  take(n: number): Buffer {
    const first = this.chunks[0]!;
    this.length -= n;
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0]!;
      const part = Math.min(c.length, n - at);
      c.copy(out, at, 0, part);
      at += part;
      if (part === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(part);
    }
    return out;
  }

  clear(): void {
    this.chunks = [];
    this.length = 0;
  }
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

/** An error for the client: PostgreSQL's own ErrorResponse (raw), or the port's code and text. */
class Refused extends Error {
  raw?: Buffer;
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }

  static from(raw: Buffer): Refused {
    const fields = new Map<string, string>();
    let at = 5;
    while (at < raw.length && raw[at] !== 0) {
      const end = raw.indexOf(0, at + 1);
      fields.set(String.fromCharCode(raw[at]!), raw.toString('utf8', at + 1, end));
      at = end + 1;
    }
    const e = new Refused(fields.get('C') ?? 'XX000', fields.get('M') ?? 'error');
    e.raw = Buffer.from(raw);
    return e;
  }
}

// ---------------------------------------------------------------------------------------------
// Session emulation: what a client's session may hold between statements

/** Settings a client may SET: applied (set_config, as the role) before each of its statements. */
const APPLIED_SETTINGS = new Set([
  'application_name',
  'bytea_output',
  'client_min_messages',
  'datestyle',
  'default_transaction_isolation',
  'default_transaction_read_only',
  'extra_float_digits',
  'intervalstyle',
  'lock_timeout',
  'search_path',
  'timezone',
]);
/** Settings a client may SET that are the port's own: checked, reported, never passed to PGlite. */
const PORT_SETTINGS = new Set(['client_encoding', 'standard_conforming_strings', 'statement_timeout']);
/** Reported to the client when they change (ParameterStatus), under PostgreSQL's spelling. */
const REPORTED: Record<string, string> = {
  application_name: 'application_name',
  datestyle: 'DateStyle',
  intervalstyle: 'IntervalStyle',
  timezone: 'TimeZone',
  client_encoding: 'client_encoding',
  standard_conforming_strings: 'standard_conforming_strings',
};

/**
 * What the port holds in memory. A statement's result is at most `resultBytes` (sent, or kept by a
 * portal until it is); a cursor's rows are kept until it is closed: at most `cursorRows` rows each,
 * `cursorBytes` for all of a connection's cursors and unfinished portals, `totalBytes` for all the
 * port's connections. Within a 192 MB heap (bin/lake.js): the rows are off the heap, in few buffers.
 */
export interface SqlPortLimits {
  cursorRows: number;
  cursorBytes: number;
  resultBytes: number;
  totalBytes: number;
}
const DEFAULT_LIMITS: SqlPortLimits = { cursorRows: 1_000_000, cursorBytes: 64 * MIB, resultBytes: 32 * MIB, totalBytes: 128 * MIB };

interface Statement {
  sql: string;
  /** Declared parameter types (0: left to the server). */
  types: number[];
}

interface Params {
  types: number[];
  formats: number[];
  values: (Buffer | null)[];
}
const NO_PARAMS: Params = { types: [], formats: [], values: [] };

/** A statement's outcome: its RowDescription (whole message) or null, DataRow messages, command tag. */
interface Result {
  description: Buffer | null;
  rows: Rows;
  tag: string;
  notices?: Buffer[];
  /** ParameterStatus messages to send after it. */
  status?: Buffer[];
}

interface Portal {
  statement: Statement;
  params: Params;
  resultFormats: number[];
  result?: Result;
}

interface Cursor {
  description: Buffer;
  rows: Rows;
  hold: boolean;
}

const NAME = '("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)';
const DECLARE = new RegExp(
  String.raw`^DECLARE\s+${NAME}\s+((?:(?:BINARY|ASENSITIVE|INSENSITIVE|SCROLL|NO\s+SCROLL)\s+)*)CURSOR\s+(?:(WITH|WITHOUT)\s+HOLD\s+)?FOR\s+([\s\S]+)$`,
  'i',
);
const FETCH = new RegExp(String.raw`^(FETCH|MOVE)\s+(?:(NEXT|FORWARD)\s+)?(?:(ALL|\d+)\s+)?(?:(?:FROM|IN)\s+)?${NAME}$`, 'i');
const CLOSE = new RegExp(String.raw`^CLOSE\s+${NAME}$`, 'i');
const SET = /^SET\s+(?:(SESSION|LOCAL)\s+)?("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_.$]*)\s*(?:\s+TO\s+|=)\s*([\s\S]+)$/i;

function identifier(name: string): string {
  return name.startsWith('"') ? name.slice(1, -1).replace(/""/g, '"') : name.toLowerCase();
}

/** A SET value: a list of literals, identifiers and numbers, as set_config takes it; null for DEFAULT. */
function settingValue(text: string): string | null {
  const items: string[] = [];
  const re = /\s*('(?:[^']|'')*'|"(?:[^"]|"")+"|[A-Za-z0-9_.$+:-]+)\s*(,|$)/y;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m || re.lastIndex === at) throw new Refused('42601', `syntax error in the value of SET: ${text}`);
    const item = m[1]!;
    items.push(item.startsWith("'") ? item.slice(1, -1).replace(/''/g, "'") : item);
    at = re.lastIndex;
    if (m[2] === '') break;
  }
  if (at < text.length) throw new Refused('42601', `syntax error in the value of SET: ${text}`);
  if (items.length === 1 && items[0]!.toLowerCase() === 'default') return null;
  return items.join(', ');
}

/** A RowDescription with its columns' format codes set. */
function withFormats(description: Buffer, formats: number[]): Buffer {
  const out = Buffer.from(description);
  const n = out.readInt16BE(5);
  let at = 7;
  for (let i = 0; i < n; i++) {
    at = out.indexOf(0, at) + 1 + 16;
    out.writeInt16BE(formats.length === 0 ? 0 : formats.length === 1 ? formats[0]! : (formats[i] ?? 0), at);
    at += 2;
  }
  return out;
}

function commandComplete(tag: string): Buffer {
  return message('C', cstr(tag));
}

function notice(code: string, text: string): Buffer {
  return message('N', Buffer.concat([cstr('SWARNING'), cstr('VWARNING'), cstr(`C${code}`), cstr(`M${text}`), Buffer.from([0])]));
}

/** Reads the fields of a frontend message. */
class Reader {
  private at = 0;
  constructor(private readonly body: Buffer) {}
  int16(): number {
    const v = this.body.readInt16BE(this.at);
    this.at += 2;
    return v;
  }
  int32(): number {
    const v = this.body.readInt32BE(this.at);
    this.at += 4;
    return v;
  }
  cstr(): string {
    const end = this.body.indexOf(0, this.at);
    if (end < 0) throw new Refused('08P01', 'invalid message format');
    const s = this.body.toString('utf8', this.at, end);
    this.at = end + 1;
    return s;
  }
  bytes(n: number): Buffer {
    const b = Buffer.from(this.body.subarray(this.at, this.at + n));
    this.at += n;
    return b;
  }
  char(): string {
    return String.fromCharCode(this.body[this.at++]!);
  }
}

// ---------------------------------------------------------------------------------------------
// One client

class Connection {
  private readonly inbox = new Inbox();
  private ended = false;
  private started = false;
  private role: string | null = null;
  private authenticated = false;
  private skipUntilSync = false;
  private busy: Promise<void> = Promise.resolve();
  /** Emulated transaction status: I idle, T in a block, E in a failed block. */
  private status: 'I' | 'T' | 'E' = 'I';
  private readonly statements = new Map<string, Statement>();
  private readonly portals = new Map<string, Portal>();
  private readonly cursors = new Map<string, Cursor>();
  /** SET values, session-wide and SET LOCAL (until the block ends). */
  private readonly settings = new Map<string, string>();
  private readonly localSettings = new Map<string, string>();
  /** The client's statement_timeout in ms (0: none); the lake's own limit still applies. */
  private timeoutMs = 0;

  constructor(
    private readonly lake: Lake,
    private readonly pg: PGlite,
    private readonly socket: net.Socket,
    private readonly limits: SqlPortLimits,
    private readonly connections: ReadonlySet<Connection>,
  ) {}

  start(): void {
    this.socket.on('data', (chunk: Buffer) => {
      if (this.ended) return;
      this.inbox.push(chunk);
      // Read on once what is here has been handled: a client sending faster is not buffered.
      if (this.inbox.length > INPUT_HIGH) this.socket.pause();
      this.busy = this.busy
        .then(() => this.drain())
        .then(() => {
          if (!this.ended) this.socket.resume();
        })
        .catch(() => {
          this.socket.destroy();
        });
    });
    this.socket.on('error', () => this.socket.destroy());
  }

  /** The socket closed: nothing of the connection is kept. */
  closed(): void {
    this.ended = true;
    this.inbox.clear();
    this.cursors.clear();
    this.portals.clear();
  }

  /** Bytes of rows the connection keeps: its cursors' and its unfinished portals'. */
  held(): number {
    let held = 0;
    for (const c of this.cursors.values()) held += c.rows.held;
    for (const p of this.portals.values()) if (p.result) held += p.result.rows.held;
    return held;
  }

  private heldByAll(): number {
    let held = 0;
    for (const c of this.connections) held += c.held();
    return held;
  }

  private send(...parts: Buffer[]): void {
    if (this.socket.destroyed || this.ended) return;
    this.socket.cork();
    for (const part of parts) if (part.length > 0) this.socket.write(part);
    this.socket.uncork();
  }

  /** Until the client has taken most of what was written to it (or is gone). */
  private async writable(): Promise<void> {
    if (this.socket.writableLength <= OUTPUT_HIGH || this.socket.destroyed) return;
    await drainedOrClosed(this.socket);
  }

  private ready(): Buffer {
    return message('Z', Buffer.from(this.status));
  }

  private fatal(code: string, text: string): void {
    this.send(errorMessage(code, text, 'FATAL'));
    this.ended = true;
    this.inbox.clear();
    this.socket.end();
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.ended) return;
      if (!this.started) {
        if (this.inbox.length < 8) return;
        const len = this.inbox.peek(8).readInt32BE(0);
        if (len < 8 || len > PRE_AUTH_MAX) return this.fatal('08P01', 'invalid startup packet');
        if (this.inbox.length < len) return;
        const packet = this.inbox.take(len);
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
      await this.writable();
      if (this.inbox.length < 5) return;
      const len = this.inbox.peek(5).readInt32BE(1);
      if (len < 4 || len > MAX_MESSAGE) return this.fatal('08P01', 'invalid message length');
      // Before login, only a password: never megabytes from anyone who can reach the port.
      if (!this.authenticated && len > PRE_AUTH_MAX) return this.fatal('08P01', `invalid message length before authentication (at most ${PRE_AUTH_MAX} bytes)`);
      if (this.inbox.length < 1 + len) return;
      const whole = this.inbox.take(1 + len);
      const type = String.fromCharCode(whole[0]!);
      const body = whole.subarray(5);
      if (!this.authenticated) {
        if (type !== 'p') return this.fatal('08P01', 'expected a password message');
        await this.authenticate(body.toString('utf8').replace(/\0$/, ''));
        if (!this.authenticated) return;
        continue;
      }
      if (type === 'X') return void this.socket.end();
      if (type === 'Q') {
        await this.simpleQuery(body.toString('utf8').replace(/\0$/, ''));
        continue;
      }
      if (type === 'S') {
        this.skipUntilSync = false;
        // Portals live as long as their transaction, as in PostgreSQL: outside a block, until Sync.
        if (this.status === 'I') this.portals.clear();
        else this.portals.delete('');
        this.send(this.ready());
        continue;
      }
      if (type === 'H') continue; // Flush: every answer is written at once.
      if (this.skipUntilSync) continue;
      try {
        await this.extended(type, body);
      } catch (error) {
        this.send(this.failed(error));
        if (type === 'F') this.send(this.ready());
        else this.skipUntilSync = true;
      }
    }
  }

  /** The ErrorResponse for an error; a block it happens in fails, as PostgreSQL's does. */
  private failed(error: unknown): Buffer {
    if (this.status === 'T') this.status = 'E';
    if (error instanceof Refused) return error.raw ?? errorMessage(error.code, error.message);
    const code = (error as { code?: unknown }).code;
    return errorMessage(typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : 'XX000', error instanceof Error ? error.message : String(error));
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
      status('IntervalStyle', 'postgres'),
      status('integer_datetimes', 'on'),
      status('standard_conforming_strings', 'on'),
      status('session_authorization', role),
      status('is_superuser', 'off'),
      status('application_name', ''),
      status('TimeZone', 'UTC'),
      message('K', Buffer.concat([int32(process.pid), randomBytes(4)])),
      this.ready(),
    );
  }

  // -------------------------------------------------------------------------------------------
  // Simple query protocol

  private async simpleQuery(sql: string): Promise<void> {
    if (sql.trim().replace(/;+\s*$/, '') === '') {
      this.send(message('I'), this.ready());
      return;
    }
    try {
      const result = await this.statement(sql, NO_PARAMS, [], true);
      this.send(...(result.notices ?? []), ...(result.description ? [result.description] : []), ...result.rows.take(Infinity), commandComplete(result.tag), ...(result.status ?? []));
    } catch (error) {
      this.send(this.failed(error));
    }
    this.send(this.ready());
  }

  /** One statement: a session command the port answers itself, or a query run as the role. */
  private async statement(sql: string, params: Params, resultFormats: number[], simple: boolean): Promise<Result> {
    const text = sql.trim().replace(/;+\s*$/, '');
    const session = await this.sessionCommand(text, params);
    if (session) return session;
    if (this.status === 'E') throw new Refused('25P02', 'current transaction is aborted, commands ignored until end of transaction block');
    const ran = await this.run(this.rewrite(text), params, resultFormats, simple);
    return ran;
  }

  /** SHOW, answered by a query (current_setting as the role, with the session's settings applied). */
  private rewrite(text: string): string {
    const show = /^SHOW\s+(ALL|TIME\s+ZONE|TRANSACTION\s+ISOLATION\s+LEVEL|"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_.]*)$/i.exec(text);
    if (!show) return text;
    const what = show[1]!;
    if (/^ALL$/i.test(what)) return `SELECT name, setting, short_desc AS description FROM pg_catalog.pg_settings ORDER BY name`;
    const name = /^TIME\s+ZONE$/i.test(what) ? 'timezone' : /^TRANSACTION/i.test(what) ? 'transaction_isolation' : identifier(what);
    if (name === 'client_encoding') return `SELECT 'UTF8'::text AS client_encoding`;
    if (name === 'statement_timeout') return `SELECT ${quoteLiteral(this.timeoutMs > 0 ? `${this.timeoutMs}ms` : '0')}::text AS statement_timeout`;
    return `SELECT pg_catalog.current_setting(${quoteLiteral(name)}) AS ${quoteIdent(name)}`;
  }

  // -------------------------------------------------------------------------------------------
  // Extended query protocol

  private async extended(type: string, body: Buffer): Promise<void> {
    const r = new Reader(body);
    switch (type) {
      case 'P': {
        const name = r.cstr();
        const sql = r.cstr();
        const types = Array.from({ length: r.int16() }, () => r.int32());
        if (name !== '' && this.statements.has(name)) throw new Refused('42P05', `prepared statement "${name}" already exists`);
        this.statements.set(name, { sql, types });
        this.send(message('1'));
        return;
      }
      case 'B': {
        const portal = r.cstr();
        const name = r.cstr();
        const statement = this.statements.get(name);
        if (!statement) throw new Refused('26000', `prepared statement "${name}" does not exist`);
        const formats = Array.from({ length: r.int16() }, () => r.int16());
        const values = Array.from({ length: r.int16() }, () => {
          const n = r.int32();
          return n < 0 ? null : r.bytes(n);
        });
        const resultFormats = Array.from({ length: r.int16() }, () => r.int16());
        if (formats.length > 1 && formats.length !== values.length) throw new Refused('08P01', `bind message has ${formats.length} parameter formats but ${values.length} parameters`);
        const perParam = values.map((_, i) => (formats.length === 0 ? 0 : formats.length === 1 ? formats[0]! : formats[i]!));
        if (portal !== '' && this.portals.has(portal)) throw new Refused('42P03', `portal "${portal}" already exists`);
        this.portals.set(portal, { statement, params: { types: statement.types, formats: perParam, values }, resultFormats });
        this.send(message('2'));
        return;
      }
      case 'D': {
        const kind = r.char();
        const name = r.cstr();
        if (kind === 'S') {
          const statement = this.statements.get(name);
          if (!statement) throw new Refused('26000', `prepared statement "${name}" does not exist`);
          const d = await this.describe(statement.sql, statement.types);
          const params = Buffer.concat([Buffer.from([d.params.length >> 8, d.params.length & 255]), ...d.params.map(int32)]);
          this.send(message('t', params), d.description ?? message('n'));
          return;
        }
        const portal = this.portals.get(name);
        if (!portal) throw new Refused('34000', `portal "${name}" does not exist`);
        const d = portal.result ? { description: portal.result.description } : await this.describe(portal.statement.sql, portal.statement.types);
        this.send(d.description ? withFormats(d.description, portal.resultFormats) : message('n'));
        return;
      }
      case 'E': {
        const name = r.cstr();
        const max = r.int32();
        const portal = this.portals.get(name);
        if (!portal) throw new Refused('34000', `portal "${name}" does not exist`);
        if (!portal.result) {
          if (portal.statement.sql.trim().replace(/;+\s*$/, '') === '') {
            this.send(message('I'));
            return;
          }
          portal.result = await this.statement(portal.statement.sql, portal.params, portal.resultFormats, false);
          this.send(...(portal.result.notices ?? []));
        }
        const rows = portal.result.rows;
        this.send(...rows.take(max > 0 ? max : Infinity));
        if (rows.remaining > 0) {
          // The rest waits for the next Execute: held as cursors are, within the same bounds.
          if (this.held() > this.limits.cursorBytes || this.heldByAll() > this.limits.totalBytes) {
            this.portals.delete(name);
            throw new Refused('54000', `the lake's SQL port keeps at most ${size(this.limits.cursorBytes)} of unfinished results and cursors for a connection (${size(this.limits.totalBytes)} for all): fetch all the rows, or narrow the query (LIMIT)`);
          }
          this.send(message('s'));
        } else this.send(commandComplete(portal.result.tag), ...(portal.result.status ?? []));
        return;
      }
      case 'C': {
        const kind = r.char();
        const name = r.cstr();
        if (kind === 'S') this.statements.delete(name);
        else this.portals.delete(name);
        this.send(message('3'));
        return;
      }
      case 'F':
        throw new Refused('0A000', "the lake's SQL port does not take function calls (FunctionCall): SELECT the function instead");
      default:
        throw new Refused('0A000', `the lake's SQL port does not take ${type === 'd' || type === 'c' || type === 'f' ? 'COPY' : `message ${JSON.stringify(type)}`}`);
    }
  }

  /** Parameter types and RowDescription (null: no rows) of a statement, as the role; nothing runs. */
  private async describe(sql: string, types: number[]): Promise<{ params: number[]; description: Buffer | null }> {
    const text = sql.trim().replace(/;+\s*$/, '');
    const fetch = FETCH.exec(text);
    if (fetch) {
      const cursor = this.cursors.get(identifier(fetch[4]!));
      return { params: [], description: fetch[1]!.toUpperCase() === 'FETCH' && cursor ? cursor.description : null };
    }
    if (this.isSessionCommand(text)) return { params: [], description: null };
    let out: { params: number[]; description: Buffer | null } = { params: [], description: null };
    await this.asRole(async (tx) => {
      out = await this.describeAsRole(tx, this.rewrite(text), types);
    });
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // Session commands: answered by the port. Every statement runs in a transaction of its own that
  // is rolled back, so a client's transaction block changes nothing (there is nothing to commit:
  // the port is read-only); BEGIN ... COMMIT only scopes cursors and SET LOCAL, as they do in
  // PostgreSQL. Each statement sees the database as it is when it runs.

  private isSessionCommand(text: string): boolean {
    return /^(BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK|ABORT|SAVEPOINT|RELEASE|SET|RESET|DECLARE|FETCH|MOVE|CLOSE|DEALLOCATE|DISCARD)\b/i.test(text);
  }

  private async sessionCommand(text: string, params: Params): Promise<Result | null> {
    if (!this.isSessionCommand(text)) return null;
    const word = /^\w+/.exec(text)![0].toUpperCase();
    const done = (tag: string, notices: Buffer[] = []): Result => ({ description: null, rows: new Rows(), tag, notices });
    if (word === 'ROLLBACK' || word === 'ABORT' || ((word === 'COMMIT' || word === 'END') && this.status === 'E')) {
      if (/^ROLLBACK\s+(AND\s+NO\s+CHAIN\s*)?$/i.test(text) || !/^ROLLBACK\s+TO\b/i.test(text)) {
        if (this.status === 'I') return done('ROLLBACK', [notice('25P01', 'there is no transaction in progress')]);
        this.endBlock();
        return done('ROLLBACK');
      }
      // ROLLBACK TO SAVEPOINT: the block goes on.
      if (this.status === 'I') throw new Refused('25P01', 'ROLLBACK TO SAVEPOINT can only be used in transaction blocks');
      this.status = 'T';
      return done('ROLLBACK');
    }
    if (this.status === 'E') throw new Refused('25P02', 'current transaction is aborted, commands ignored until end of transaction block');
    if (word === 'BEGIN' || word === 'START') {
      if (this.status !== 'I') return done('BEGIN', [notice('25001', 'there is already a transaction in progress')]);
      this.status = 'T';
      return done(word === 'BEGIN' ? 'BEGIN' : 'START TRANSACTION');
    }
    if (word === 'COMMIT' || word === 'END') {
      if (this.status === 'I') return done('COMMIT', [notice('25P01', 'there is no transaction in progress')]);
      this.endBlock();
      return done('COMMIT');
    }
    if (word === 'SAVEPOINT' || word === 'RELEASE') {
      if (this.status === 'I') throw new Refused('25P01', `${word} can only be used in transaction blocks`);
      return done(word);
    }
    if (word === 'SET' || word === 'RESET') return this.set(text);
    if (word === 'DECLARE') return this.declare(text, params);
    if (word === 'FETCH' || word === 'MOVE') return this.fetch(text);
    if (word === 'CLOSE') {
      const m = CLOSE.exec(text);
      if (!m) throw new Refused('42601', `syntax error: ${text}`);
      if (/^ALL$/i.test(m[1]!)) this.cursors.clear();
      else if (!this.cursors.delete(identifier(m[1]!))) throw new Refused('34000', `cursor "${identifier(m[1]!)}" does not exist`);
      return done('CLOSE CURSOR');
    }
    if (word === 'DEALLOCATE') {
      const m = new RegExp(String.raw`^DEALLOCATE\s+(?:PREPARE\s+)?(ALL|${NAME})$`, 'i').exec(text);
      if (!m) throw new Refused('42601', `syntax error: ${text}`);
      if (/^ALL$/i.test(m[1]!)) {
        this.statements.clear();
        return done('DEALLOCATE ALL');
      }
      if (!this.statements.delete(identifier(m[1]!))) throw new Refused('26000', `prepared statement "${identifier(m[1]!)}" does not exist`);
      return done('DEALLOCATE');
    }
    // DISCARD ALL | PLANS | SEQUENCES | TEMP: the port keeps no plans or temporary objects.
    if (!/^DISCARD\s+(ALL|PLANS|SEQUENCES|TEMP|TEMPORARY)$/i.test(text)) throw new Refused('42601', `syntax error: ${text}`);
    if (/ALL$/i.test(text)) {
      if (this.status !== 'I') throw new Refused('25001', 'DISCARD ALL cannot run inside a transaction block');
      this.statements.clear();
      this.portals.clear();
      this.cursors.clear();
      this.settings.clear();
      this.timeoutMs = 0;
    }
    return done(`DISCARD ${/^DISCARD\s+(\w+)/i.exec(text)![1]!.toUpperCase()}`);
  }

  /** The end of a block: its cursors (but those WITH HOLD) and its SET LOCAL values go. */
  private endBlock(): void {
    this.status = 'I';
    this.portals.clear();
    for (const [name, cursor] of this.cursors) if (!cursor.hold) this.cursors.delete(name);
    this.localSettings.clear();
  }

  /** SET / RESET of the settings a client may change; never the role or the session's identity. */
  private async set(text: string): Promise<Result> {
    const done = (tag: string, status: Buffer[] = [], notices: Buffer[] = []): Result => ({ description: null, rows: new Rows(), tag, status, notices });
    if (/^(SET\s+((SESSION|LOCAL)\s+)?(ROLE|SESSION\s+AUTHORIZATION)|RESET\s+(ROLE|SESSION\s+AUTHORIZATION|ALL))\b/i.test(text) && !/^RESET\s+ALL$/i.test(text)) {
      throw new Refused('42501', `permission denied to change the role: the lake's SQL port keeps this session ${this.role}`);
    }
    if (/^SET\s+(SESSION\s+CHARACTERISTICS\s+AS\s+)?TRANSACTION\b/i.test(text)) return done('SET'); // one read-only snapshot per statement anyway
    if (/^RESET\s+ALL$/i.test(text)) {
      this.settings.clear();
      this.localSettings.clear();
      this.timeoutMs = 0;
      return done('RESET');
    }
    let scope: 'session' | 'local' = 'session';
    let name: string;
    let value: string | null;
    const reset = /^RESET\s+("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_.$]*)$/i.exec(text);
    const timeZone = /^SET\s+(?:(SESSION|LOCAL)\s+)?TIME\s+ZONE\s+([\s\S]+)$/i.exec(text);
    if (reset) {
      name = identifier(reset[1]!);
      value = null;
    } else if (timeZone) {
      scope = timeZone[1]?.toUpperCase() === 'LOCAL' ? 'local' : 'session';
      name = 'timezone';
      value = /^LOCAL$/i.test(timeZone[2]!.trim()) ? null : settingValue(timeZone[2]!);
    } else {
      const m = SET.exec(text);
      if (!m) throw new Refused('42601', `syntax error: ${text}`);
      scope = m[1]?.toUpperCase() === 'LOCAL' ? 'local' : 'session';
      name = identifier(m[2]!);
      value = settingValue(m[3]!);
    }
    if (name === 'role' || name === 'session_authorization') {
      throw new Refused('42501', `permission denied to change the role: the lake's SQL port keeps this session ${this.role}`);
    }
    if (!APPLIED_SETTINGS.has(name) && !PORT_SETTINGS.has(name) && !/^enable_[a-z_]+$/.test(name)) {
      throw new Refused('42501', `the lake's SQL port does not set "${name}" (it sets ${[...APPLIED_SETTINGS, ...PORT_SETTINGS, 'enable_*'].sort().join(', ')})`);
    }
    const tag = reset ? 'RESET' : 'SET';
    if (scope === 'local' && this.status === 'I') return done(tag, [], [notice('25P01', 'SET LOCAL can only be used in transaction blocks')]);
    if (name === 'client_encoding') {
      if (value !== null && !/^(utf-?8|unicode)$/i.test(value)) throw new Refused('0A000', `the lake's SQL port speaks UTF8 only, not ${value}`);
      return done(tag, [message('S', Buffer.concat([cstr('client_encoding'), cstr('UTF8')]))]);
    }
    if (name === 'standard_conforming_strings') {
      if (value !== null && !/^(on|true|1|yes)$/i.test(value)) throw new Refused('0A000', "the lake's SQL port keeps standard_conforming_strings on");
      return done(tag);
    }
    // Checked by PostgreSQL as the role (a bad value fails here, not at the next query) and kept in
    // its canonical form.
    const canonical = value === null ? null : await this.checkSetting(name, value);
    if (name === 'statement_timeout') {
      this.timeoutMs = canonical === null ? 0 : Number(canonical);
      return done(tag);
    }
    const map = scope === 'local' ? this.localSettings : this.settings;
    if (canonical === null) {
      this.settings.delete(name);
      this.localSettings.delete(name);
    } else map.set(name, canonical);
    const reported = REPORTED[name];
    if (!reported) return done(tag);
    let shown = canonical;
    if (shown === null) await this.asRole(async (tx) => void (shown = (await tx.query<{ v: string }>(`SELECT pg_catalog.current_setting($1) AS v`, [name])).rows[0]!.v));
    return done(tag, [message('S', Buffer.concat([cstr(reported), cstr(shown ?? '')]))]);
  }

  private async checkSetting(name: string, value: string): Promise<string> {
    let canonical = value;
    await this.asRole(async (tx) => {
      const r = await tx.query<{ v: string; ms: string }>(
        `SELECT pg_catalog.set_config($1, $2, true) AS v, (SELECT setting FROM pg_catalog.pg_settings WHERE name = 'statement_timeout') AS ms`,
        [name, value],
      );
      canonical = name === 'statement_timeout' ? r.rows[0]!.ms : r.rows[0]!.v;
    }).catch((error: unknown) => {
      if (error instanceof Refused) throw error;
      const e = error as { code?: string; message?: string };
      throw new Refused(e.code ?? '22023', e.message ?? String(error));
    });
    return canonical;
  }

  /** DECLARE: the query runs now, as the role, and its rows (within the limits) wait for FETCH. */
  private async declare(text: string, params: Params): Promise<Result> {
    const m = DECLARE.exec(text);
    if (!m) throw new Refused('42601', `syntax error in DECLARE (DECLARE name [BINARY] [NO SCROLL] CURSOR [WITH HOLD] FOR query): ${text}`);
    const name = identifier(m[1]!);
    const binary = /\bBINARY\b/i.test(m[2]!);
    const hold = m[3]?.toUpperCase() === 'WITH';
    if (this.status === 'I' && !hold) throw new Refused('25P01', 'DECLARE CURSOR can only be used in transaction blocks');
    if (this.cursors.has(name)) throw new Refused('42P03', `cursor "${name}" already exists`);
    // The bytes limit is the connection's (all its open cursors together) and the port's.
    const budget = Math.min(this.limits.cursorBytes - this.held(), this.limits.totalBytes - this.heldByAll());
    const result = await this.run(this.rewrite(m[4]!.trim()), params, binary ? [1] : [], false, Math.max(0, budget));
    this.cursors.set(name, { description: result.description!, rows: result.rows, hold });
    return { description: null, rows: new Rows(), tag: 'DECLARE CURSOR' };
  }

  private fetch(text: string): Result {
    const m = FETCH.exec(text);
    if (!m) throw new Refused('0A000', `the lake's SQL port fetches forward only: FETCH [FORWARD] n|ALL [FROM|IN] name (${text})`);
    const name = identifier(m[4]!);
    const cursor = this.cursors.get(name);
    if (!cursor) throw new Refused('34000', `cursor "${name}" does not exist`);
    const count = m[3] === undefined ? 1 : /^ALL$/i.test(m[3]) ? Infinity : Number(m[3]);
    const before = cursor.rows.taken;
    const taken = cursor.rows.take(count);
    const n = cursor.rows.taken - before;
    const rows = new Rows();
    const move = m[1]!.toUpperCase() === 'MOVE';
    if (!move) for (const run of taken) rows.add(run, 0);
    rows.count = move ? 0 : n;
    return { description: move ? null : cursor.description, rows, tag: `${move ? 'MOVE' : 'FETCH'} ${n}` };
  }

  // -------------------------------------------------------------------------------------------
  // Queries, as the role

  /**
   * `work` in a transaction of the lake's, rolled back at its end, switched to the role with the
   * client's settings applied (as the role: set_config of what the allow-list lets through).
   */
  private async asRole(work: (tx: Transaction) => Promise<void>): Promise<void> {
    let failure: { error: unknown } | null = null;
    try {
      await this.lake.db.transaction(async (tx) => {
        // A query holds PGlite, the API's requests included, while it runs. (PGlite does not
        // interrupt a query at statement_timeout: the setting is for a server's sake.)
        const cap = this.lake.config.statementTimeoutMs > 0 ? this.lake.config.statementTimeoutMs : 300_000;
        await tx.query(`SET LOCAL statement_timeout = ${this.timeoutMs > 0 ? Math.min(this.timeoutMs, cap) : cap}`);
        await tx.query(`SAVEPOINT lake_sql_port`);
        try {
          await tx.query(`SET LOCAL ROLE ${quoteIdent(this.role!)}`);
          await this.applySettings(tx);
          await work(tx);
        } catch (error) {
          failure = { error };
        }
        // Whatever the role did goes, before anything else runs in PGlite's one session: the
        // savepoint takes settings, temporary objects, cursors and portals; session-level advisory
        // locks and prepared statements outlive a rollback, and go as the superuser. (The lake
        // itself holds no session-level lock and prepares no named statement on PGlite.)
        await tx.query(`ROLLBACK TO SAVEPOINT lake_sql_port`);
        await tx.query(`RESET ROLE`);
        await tx.query(`SELECT pg_catalog.pg_advisory_unlock_all()`);
        await tx.query(`DEALLOCATE ALL`);
        throw new Done();
      });
    } catch (error) {
      // Rolled back: whatever the query set (search_path, statement_timeout...) is gone with it.
      if (!(error instanceof Done)) throw error;
    }
    if (failure) throw (failure as { error: unknown }).error;
  }

  private async applySettings(tx: Transaction): Promise<void> {
    const all = new Map([...this.settings, ...this.localSettings]);
    if (all.size === 0) return;
    await tx.query(`SELECT pg_catalog.set_config(n, v, true) FROM unnest($1::text[], $2::text[]) AS s(n, v)`, [[...all.keys()], [...all.values()]]);
  }

  /** Runs the protocol messages on PGlite's session (inside the lake's transaction) and splits the answer. */
  private async raw(...messages: Buffer[]): Promise<Backend[]> {
    return split(await this.rawBytes(...messages));
  }

  private async rawBytes(...messages: Buffer[]): Promise<Uint8Array> {
    return this.pg.runExclusive(async () => {
      const answer = await this.pg.execProtocolRaw(Buffer.concat([...messages, message('S')]), { syncToFs: false });
      // PGlite (0.4) also parses every message of a raw answer into objects and keeps them until
      // its next execProtocol: a million rows of them filled the heap. A Sync lets them go (in
      // the lake's transaction it ends nothing, and leaves the portal being fetched open).
      await this.pg.execProtocol(message('S'), { syncToFs: false });
      return answer;
    });
  }

  private async describeAsRole(tx: Transaction, sql: string, types: number[]): Promise<{ params: number[]; description: Buffer | null }> {
    void tx;
    const parse = Buffer.concat([cstr(''), cstr(sql), Buffer.from([types.length >> 8, types.length & 255]), ...types.map(int32)]);
    const described = await this.raw(message('P', parse), message('D', Buffer.concat([Buffer.from('S'), cstr('')])));
    const error = described.find((m) => m.type === 'E');
    if (error) throw Refused.from(error.raw);
    const t = described.find((m) => m.type === 't');
    const params: number[] = [];
    if (t) for (let i = 0; i < t.body.readInt16BE(0); i++) params.push(t.body.readInt32BE(2 + 4 * i));
    const d = described.find((m) => m.type === 'T');
    return { params, description: d ? Buffer.from(d.raw) : null };
  }

  /**
   * A query, as the role: described first (Parse and Describe, nothing runs), then run inside the
   * role's SECURITY DEFINER function, the client's parameters passed to it as typed arguments and
   * on to the query by EXECUTE ... USING: never written into the query's text.
   */
  private async run(sql: string, params: Params, resultFormats: number[], simple: boolean, cursorBudget?: number): Promise<Result> {
    const bounded = cursorBudget !== undefined;
    const role = this.role!;
    let result: Result | null = null;
    await this.asRole(async (tx) => {
      const described = await this.describeAsRole(tx, sql, params.types);
      if (simple && described.params.length > 0) throw new Refused('0A000', 'parameters ($1...) need the extended query protocol (a driver with parameters), not a simple query');
      if (!described.description) throw new Refused('0A000', "the lake's SQL port runs queries that return rows only (SELECT, WITH, VALUES, TABLE, SHOW)");
      if (params.values.length !== described.params.length) {
        throw new Refused('08P01', `bind message supplies ${params.values.length} parameters, but prepared statement requires ${described.params.length}`);
      }
      if (described.params.length > 90) throw new Refused('54023', "the lake's SQL port takes at most 90 parameters in a statement");
      const columns = rowDescription(described.description.subarray(5));
      // The superuser's part, with a search path of its own: the role's settings name nothing here.
      const searchPath = (await tx.query<{ p: string }>(`SELECT pg_catalog.current_setting('search_path') AS p`)).rows[0]!.p;
      await tx.query(`RESET ROLE`);
      await tx.query(`SET LOCAL search_path = pg_catalog, pg_temp`);
      const types = await tx.query<{ t: string }>(`SELECT format_type(o, m) AS t FROM unnest($1::oid[], $2::int[]) WITH ORDINALITY AS c(o, m, i) ORDER BY i`, [
        [...columns.map((c) => c.typeOid), ...described.params],
        [...columns.map((c) => c.typmod), ...described.params.map(() => -1)],
      ]);
      const names = types.rows.map((r) => r.t);
      const fn = await this.definerFunction(tx, role, names.slice(columns.length));
      await tx.query(`SET LOCAL ROLE ${quoteIdent(role)}`);
      await tx.query(`SELECT pg_catalog.set_config('search_path', $1, true)`, [searchPath]);
      const list = names.slice(0, columns.length).map((t, i) => `c${i + 1} ${t}`).join(', ');
      const args = ['$1', ...described.params.map((_, i) => `$${i + 2}`)].join(', ');
      const limit = bounded ? ` LIMIT ${this.limits.cursorRows + 1}` : '';
      const call = `SELECT * FROM pg_temp.${quoteIdent(fn)}(${args}) AS t(${list})${limit}`;
      const oids = [25, ...described.params];
      const parse = Buffer.concat([cstr(''), cstr(call), Buffer.from([oids.length >> 8, oids.length & 255]), ...oids.map(int32)]);
      const formats = [0, ...params.values.map((_, i) => params.formats[i] ?? 0)];
      const values = [Buffer.from(sql, 'utf8'), ...params.values];
      const bind = Buffer.concat([
        cstr(''),
        cstr(''),
        Buffer.from([formats.length >> 8, formats.length & 255]),
        ...formats.map((f) => Buffer.from([f >> 8, f & 255])),
        Buffer.from([values.length >> 8, values.length & 255]),
        ...values.map((v) => (v === null ? int32(-1) : Buffer.concat([int32(v.length), v]))),
        Buffer.from([resultFormats.length >> 8, resultFormats.length & 255]),
        ...resultFormats.map((f) => Buffer.from([f >> 8, f & 255])),
      ]);
      // Executed in batches (the unnamed portal lives on in the lake's transaction), each answer
      // about BATCH_BYTES, and stopped as soon as the rows pass the bounds.
      const rows = new Rows();
      const notices: Buffer[] = [];
      const maxRows = bounded ? this.limits.cursorRows : Infinity;
      const maxBytes = bounded ? cursorBudget : this.limits.resultBytes;
      let batch = 1; // then as many as make about BATCH_BYTES, from the size of those seen
      for (let first = true; ; first = false) {
        const execute = message('E', Buffer.concat([cstr(''), int32(batch)]));
        const step = scan(await this.rawBytes(...(first ? [message('P', parse), message('B', bind)] : []), execute));
        if (step.error) throw Refused.from(step.error);
        notices.push(...step.notices);
        if (rows.count + step.rows > maxRows || rows.bytes + step.bytes > maxBytes) {
          if (!bounded) {
            throw new Refused('54000', `result larger than ${size(this.limits.resultBytes)}, more than the lake's SQL port sends at once: use LIMIT or a cursor (DECLARE ... CURSOR, then FETCH)`);
          }
          throw new Refused(
            '54000',
            `the cursor's query returns more than the lake's SQL port keeps for a cursor (${this.limits.cursorRows} rows, or ${size(this.limits.cursorBytes)} for all the connection's cursors, ${size(this.limits.totalBytes)} for all connections'): narrow it (WHERE, LIMIT) or CLOSE other cursors`,
          );
        }
        for (const run of step.runs) rows.add(run.data, run.rows);
        if (step.complete || step.rows === 0) break;
        batch = Math.max(1, Math.min(50_000, Math.floor(BATCH_BYTES / Math.max(1, (rows.bytes || 1) / Math.max(1, rows.count)))));
      }
      const description = withFormats(described.description, resultFormats);
      result = { description, rows, tag: `SELECT ${rows.count}`, notices };
    });
    return result!;
  }

  /**
   * The role's SECURITY DEFINER function that runs a query text with its parameters: made by the
   * superuser in this transaction (rolled back with it), temporary, owned by the role so that it
   * runs as the role, and executable by no one else.
   */
  private async definerFunction(tx: Transaction, role: string, paramTypes: string[]): Promise<string> {
    const name = `lake_sql_run_${role}`;
    const fn = `pg_temp.${quoteIdent(name)}`;
    const args = ['query text', ...paramTypes.map((t, i) => `p${i + 1} ${t}`)].join(', ');
    const using = paramTypes.length > 0 ? ` USING ${paramTypes.map((_, i) => `p${i + 1}`).join(', ')}` : '';
    await tx.query(`CREATE FUNCTION ${fn}(${args}) RETURNS SETOF record LANGUAGE plpgsql SECURITY DEFINER AS $$ BEGIN RETURN QUERY EXECUTE query${using}; END $$`);
    await tx.query(`REVOKE ALL ON FUNCTION ${fn} FROM PUBLIC`);
    await tx.query(`ALTER FUNCTION ${fn} OWNER TO ${quoteIdent(role)}`);
    return name;
  }
}
