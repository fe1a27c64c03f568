// Remote adapter: the embedded database of a running `lake serve`, reached over the Unix socket it
// listens on in the data directory (src/api/admin-socket.ts). PGlite is one process, so while
// `lake serve` holds it, the other commands (users, keys, import, doctor, sql) send their
// statements to the server, which runs them on its own database: the same Database interface,
// the same transactions. The protocol is small: frames of a 4-byte length and a V8-serialized
// message (Dates, byte arrays and JSON values travel as they are), one answer per request, in
// order. Each transaction has a connection of its own: the server holds the transaction open
// while the client sends its statements, and rolls it back when the connection ends before a
// commit (a client killed mid-import).
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { LakeError, type ErrorCode, ERRORS } from '../../errors.js';
import type { CopyData, CopyFormat, Database, QueryOptions, QueryResult, Transaction } from '../database.js';
import { drainedOrClosed } from '../../drained.js';
import type { Profile } from '../profile.js';
import { isAlive } from './directory-lock.js';

/** Bumped whenever a message changes meaning: a client and a server of different lake releases refuse each other. */
export const PROTOCOL = 1;

/** Where `lake serve` listens, inside the hot tier: a directory only the owner may enter, holding the socket. */
export function adminSocketPath(hotTier: string): string {
  return path.join(hotTier, 'run', 'lake.sock');
}

/** How long the server may take to say who it is. */
const HELLO_TIMEOUT_MS = 10_000;

/** A Unix socket path longer than this cannot be bound (sun_path is 108 bytes on Linux, 104 on macOS). */
export const MAX_SOCKET_PATH = 100;

export type TransactionKind = 'transaction' | 'asUser' | 'loadAsUser' | 'filesAtRest';

/** Client to server. `chunk` and `end` follow a `copy` and get no answer of their own. */
export type Request =
  | { op: 'hello'; protocol: number }
  | { op: 'query'; sql: string; params: readonly unknown[]; prepare?: boolean }
  | { op: 'exec'; sql: string }
  | { op: 'assertRoomFor'; bytes: number }
  | { op: 'detectProfile' }
  | { op: 'begin'; kind: TransactionKind; userId?: string | null; settings?: Readonly<Record<string, string>> }
  | { op: 'copy'; table: string; columns: readonly string[]; format: CopyFormat }
  | { op: 'chunk'; data: Uint8Array | string }
  | { op: 'end'; error?: string }
  | { op: 'direct-done' }
  | { op: 'commit' }
  | { op: 'rollback' };

export type Reply = { ok: true; value?: unknown } | { ok: false; error: EncodedError };

/** What the server says of itself (the answer to hello). */
export interface ServerInfo {
  protocol: number;
  pid: number;
  location: string;
  profile: Profile;
}

export interface EncodedError {
  message: string;
  /** A LakeError's code. */
  lake?: string;
  details?: Record<string, unknown>;
  /** A database error's fields (SQLSTATE code, detail, hint, …). */
  fields?: Record<string, unknown>;
}

const PG_FIELDS = ['code', 'severity', 'detail', 'hint', 'position', 'where', 'schema', 'table', 'column', 'dataType', 'constraint'] as const;

export function encodeError(error: unknown): EncodedError {
  if (error instanceof LakeError) return { message: error.message, lake: error.code, details: plain(error.details) };
  if (error instanceof Error) {
    const fields: Record<string, unknown> = {};
    for (const name of PG_FIELDS) {
      const value = (error as unknown as Record<string, unknown>)[name];
      if (typeof value === 'string' || typeof value === 'number') fields[name] = value;
    }
    return { message: error.message, fields };
  }
  return { message: String(error) };
}

export function decodeError(encoded: EncodedError): Error {
  if (encoded.lake && encoded.lake in ERRORS) return new LakeError(encoded.lake as ErrorCode, encoded.message, { details: encoded.details });
  return Object.assign(new Error(encoded.message), encoded.fields ?? {});
}

function plain(details: Record<string, unknown>): Record<string, unknown> {
  try {
    serialize(details);
    return details;
  } catch {
    return {};
  }
}

/** Frames on a stream: a 4-byte big-endian length, then a V8-serialized value. */
export function frame(message: unknown): Buffer {
  const body = serialize(message);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

/** Calls `onMessage` for each whole frame read from `socket`. */
export function readFrames(socket: net.Socket, onMessage: (message: unknown) => void): void {
  let buffered: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4) {
      const length = buffered.readUInt32BE(0);
      if (buffered.length < 4 + length) break;
      const body = buffered.subarray(4, 4 + length);
      buffered = buffered.subarray(4 + length);
      let message: unknown;
      try {
        message = deserialize(body);
      } catch (error) {
        socket.destroy(error as Error);
        return;
      }
      onMessage(message);
    }
  });
}

/** One connection to the server: requests answered in order. */
class Channel {
  private readonly pending: { resolve: (value: unknown) => void; reject: (error: Error) => void }[] = [];
  private failure: Error | null = null;

  private constructor(
    private readonly socket: net.Socket,
    private readonly pid: number | null,
  ) {
    readFrames(socket, (message) => {
      const reply = message as Reply;
      const waiting = this.pending.shift();
      if (!waiting) return;
      if (reply.ok) waiting.resolve(reply.value);
      else waiting.reject(decodeError(reply.error));
    });
    const end = (error?: Error) => {
      this.failure ??= new LakeError(
        'DB_ERROR',
        `the connection to lake serve${this.pid ? ` (pid ${this.pid})` : ''} ended${error ? ` (${error.message})` : ''}: run the command again`,
      );
      for (const waiting of this.pending.splice(0)) waiting.reject(this.failure);
    };
    socket.on('error', end);
    socket.on('close', () => end());
  }

  static connect(socketPath: string, pid: number | null, timeoutMs = 2000): Promise<Channel> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection(socketPath);
      const timer = setTimeout(() => socket.destroy(new Error(`no answer from ${socketPath} within ${timeoutMs} ms`)), timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeListener('error', reject);
        resolve(new Channel(socket, pid));
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  /** Send a request and wait for its answer; with `timeoutMs`, the connection is cut when none comes in time. */
  call<T = unknown>(request: Request, timeoutMs = 0): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      const timer = timeoutMs > 0 ? setTimeout(() => this.socket.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs) : null;
      const settle = <V>(finish: (value: V) => void) => (value: V) => {
        if (timer) clearTimeout(timer);
        finish(value);
      };
      this.pending.push({ resolve: settle(resolve as (value: unknown) => void), reject: settle(reject) });
      this.socket.write(frame(request));
    });
  }

  /** Send a message that has no answer of its own (copy data), waiting while the socket's buffer is full. */
  async send(request: Request): Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.socket.write(frame(request))) await drainedOrClosed(this.socket);
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
  }
}

/**
 * The running `lake serve` of this hot tier, when there is one: its socket answers and the server
 * is the process that holds the directory lock (lake.pid). Null otherwise, at once (no socket, a
 * stale one left by a killed server, another owner): the caller then locks the directory itself.
 */
export async function connectRunningServer(hotTier: string): Promise<RemoteDatabase | null> {
  const socketPath = adminSocketPath(hotTier);
  if (!existsSync(socketPath)) return null;
  const stats = lstatSync(socketPath, { throwIfNoEntry: false });
  // Only a socket of this user's: never send the lake's statements to somebody else's process.
  if (!stats?.isSocket() || (typeof process.getuid === 'function' && stats.uid !== process.getuid())) return null;
  let owner: number;
  try {
    owner = Number(readFileSync(path.join(hotTier, 'lake.pid'), 'utf8'));
  } catch {
    return null; // no lock: nobody holds the database
  }
  if (!Number.isInteger(owner) || owner <= 0) return null;
  let channel: Channel;
  try {
    channel = await Channel.connect(socketPath, owner);
  } catch {
    return null; // refused: a stale socket of a server that is gone
  }
  try {
    // Answered at once, whatever the database is doing: silence means a process that is stuck.
    const info = await channel.call<ServerInfo>({ op: 'hello', protocol: PROTOCOL }, HELLO_TIMEOUT_MS).catch((error: unknown) => {
      if (!isAlive(owner)) return null; // it just ended: the lock is free
      throw new LakeError('DATA_DIR_LOCKED', `the embedded database is held by lake serve (pid ${owner}), which does not answer on ${socketPath}: ${error instanceof Error ? error.message : String(error)}`);
    });
    if (!info) {
      channel.close();
      return null;
    }
    if (info.protocol !== PROTOCOL) {
      throw new LakeError(
        'DATA_DIR_LOCKED',
        `the embedded database is held by lake serve (pid ${info.pid}) of another lake release (protocol ${info.protocol}, this one ${PROTOCOL}): restart lake serve with this release`,
      );
    }
    if (info.pid !== owner) {
      channel.close();
      return null;
    }
    return new RemoteDatabase(channel, socketPath, info);
  } catch (error) {
    channel.close();
    if (error instanceof LakeError) throw error;
    return null;
  }
}

/** The running server's pid when `hotTier` has a live `lake serve` socket (for error messages), else null. */
export async function runningServerPid(hotTier: string): Promise<number | null> {
  const remote = await connectRunningServer(hotTier).catch(() => null);
  if (!remote) return null;
  await remote.close();
  return remote.server.pid;
}

/** The running server's embedded database, statement by statement over the socket. */
export class RemoteDatabase implements Database {
  readonly backend = 'embedded' as const;
  readonly concurrentTransactions = 1;
  readonly location: string;
  /** The server this goes through. */
  readonly server: { pid: number; socket: string };
  readonly profile: Profile;

  constructor(
    private readonly channel: Channel,
    socket: string,
    info: ServerInfo,
  ) {
    this.location = info.location;
    this.server = { pid: info.pid, socket };
    this.profile = info.profile;
  }

  async query<Row = Record<string, unknown>>(sql: string, params: readonly unknown[] = [], options?: QueryOptions): Promise<QueryResult<Row>> {
    return this.channel.call<QueryResult<Row>>({ op: 'query', sql, params, prepare: options?.prepare });
  }

  transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T> {
    return this.run({ op: 'begin', kind: 'transaction' }, async (tx) => work(tx));
  }

  asUser<T>(userId: string | null, work: (tx: Transaction) => Promise<T>, settings?: Readonly<Record<string, string>>): Promise<T> {
    return this.run({ op: 'begin', kind: 'asUser', userId, settings }, async (tx) => work(tx));
  }

  loadAsUser<D, T>(userId: string, direct: (tx: Transaction) => Promise<D>, work: (tx: Transaction, direct: D) => Promise<T>): Promise<T> {
    return this.run({ op: 'begin', kind: 'loadAsUser', userId }, async (tx, channel) => {
      const done = await direct(tx);
      // The server ends the direct part, enters the user's identity and says so.
      await channel.call({ op: 'direct-done' });
      return work(tx, done);
    });
  }

  /** withFilesAtRest through the server: its database checkpointed and paused while `work` runs here. */
  filesAtRest<T>(work: (tx: Transaction, directory: string) => Promise<T>): Promise<T> {
    return this.run({ op: 'begin', kind: 'filesAtRest' }, (tx, _channel, began) => work(tx, (began as { directory: string }).directory));
  }

  /** A transaction on a connection of its own: begun, `work`'s statements, then commit, or rollback on a failure. */
  private async run<T>(begin: Request, work: (tx: Transaction, channel: Channel, began: unknown) => Promise<T>): Promise<T> {
    const channel = await Channel.connect(this.server.socket, this.server.pid);
    try {
      const began = await channel.call(begin);
      let result: T;
      try {
        result = await work(remoteTransaction(channel), channel, began);
      } catch (error) {
        await channel.call({ op: 'rollback' }).catch(() => {});
        throw error;
      }
      await channel.call({ op: 'commit' });
      return result;
    } finally {
      channel.close();
    }
  }

  async assertRoomFor(copyBytes: number): Promise<void> {
    await this.channel.call({ op: 'assertRoomFor', bytes: copyBytes });
  }

  /** The server applies its own (userContextSettings of its profile). */
  setUserContextSettings(): void {}

  detectProfile(): Promise<Profile> {
    return this.channel.call<Profile>({ op: 'detectProfile' });
  }

  async close(): Promise<void> {
    this.channel.close();
  }
}

function remoteTransaction(channel: Channel): Transaction {
  // One COPY at a time: the data messages of a copy follow it on the connection.
  let copying: Promise<unknown> = Promise.resolve();
  const copyFrom = async (table: string, columns: readonly string[], data: CopyData, format: CopyFormat): Promise<number> => {
    // The answer comes once the server has all the data and loaded it.
    const loaded = channel.call<number>({ op: 'copy', table, columns, format });
    loaded.catch(() => {}); // awaited below
    try {
      if (typeof data === 'string' || data instanceof Uint8Array) await channel.send({ op: 'chunk', data });
      else for await (const chunk of data) await channel.send({ op: 'chunk', data: chunk });
    } catch (error) {
      await channel.send({ op: 'end', error: error instanceof Error ? error.message : String(error) }).catch(() => {});
      await loaded.catch(() => {});
      throw error;
    }
    await channel.send({ op: 'end' });
    return loaded;
  };
  return {
    query<Row>(sql: string, params: readonly unknown[] = [], options?: QueryOptions) {
      return channel.call<QueryResult<Row>>({ op: 'query', sql, params, prepare: options?.prepare });
    },
    async exec(sql: string) {
      await channel.call({ op: 'exec', sql });
    },
    copyFrom(table: string, columns: readonly string[], data: CopyData, format: CopyFormat = 'text') {
      const done = copying.then(() => copyFrom(table, columns, data, format));
      copying = done.catch(() => {});
      return done;
    },
  };
}
