// The server side of the remote adapter (src/db/adapters/remote.ts): `lake serve` on the embedded
// database listens on a Unix socket in the hot tier, and the other `lake` commands of the same
// user send their statements there instead of waiting for the directory lock. Each call runs on
// the server's own Database; a transaction stays open while its client sends its statements
// (PGlite runs one transaction at a time: the HTTP requests wait meanwhile, as for any
// transaction) and is rolled back when the client's connection ends without a commit, or when
// the client says nothing for TRANSACTION_IDLE_MS.
//
// Trust: whoever can connect gets the maintenance role, as whoever can open the database files.
// The socket is made in a directory of mode 0700 and is itself 0600, so only the owner reaches it.
import { chmod, mkdir, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { Database, Transaction } from '../db/database.js';
import { adminSocketPath, encodeError, frame, MAX_SOCKET_PATH, PROTOCOL, readFrames, type Reply, type Request, type ServerInfo } from '../db/adapters/remote.js';
import { withFilesAtRest } from '../db/adapters/embedded.js';
import type { Profile } from '../db/profile.js';

/** A client inside a transaction that sends nothing this long loses it (rolled back): the HTTP API cannot wait forever. */
export const TRANSACTION_IDLE_MS = 120_000;

export interface AdminSocket {
  readonly path: string;
  /** Stop accepting; let running calls end (up to `graceMs`, then cut them: their transactions roll back); remove the socket. */
  close(graceMs?: number): Promise<void>;
}

export interface AdminSocketOptions {
  /** Told of a client that went away inside a transaction, and of other trouble. */
  log?: (message: string) => void;
  idleMs?: number;
}

/**
 * Listen on `<hot>/run/lake.sock`. The caller holds the directory lock, so a socket already there
 * is one a killed server left: replaced. Null (and a line in the log) when the path is too long
 * for a Unix socket: the other commands then wait for the lock as before.
 */
export async function listenAdminSocket(db: Database, profile: Profile, hotTier: string, options: AdminSocketOptions = {}): Promise<AdminSocket | null> {
  const socketPath = adminSocketPath(hotTier);
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
    options.log?.(`no command socket: ${socketPath} is longer than a Unix socket path may be; other lake commands cannot run while this server does`);
    return null;
  }
  const directory = path.dirname(socketPath);
  await mkdir(directory, { recursive: true, mode: 0o700 });
  await chmod(directory, 0o700);
  await rm(socketPath, { force: true });
  const sessions = new Set<Promise<void>>();
  const sockets = new Set<net.Socket>();
  /** Connections between calls: closed at once at shutdown. */
  const idle = new Set<net.Socket>();
  let closing = false;
  const info: ServerInfo = { protocol: PROTOCOL, pid: process.pid, location: db.location, profile };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const between = {
      set(waiting: boolean) {
        if (waiting && closing) socket.destroy();
        else if (waiting) idle.add(socket);
        else idle.delete(socket);
      },
    };
    const session = serveConnection(db, info, socket, options, between).finally(() => {
      idle.delete(socket);
      sockets.delete(socket);
      sessions.delete(session);
    });
    sessions.add(session);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmod(socketPath, 0o600);
  return {
    path: socketPath,
    async close(graceMs = 10_000) {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of idle) socket.destroy();
      const cut = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, graceMs);
      try {
        // Idle clients (between calls) are cut at once; a running transaction gets the grace time.
        await Promise.all([closed, ...sessions]);
      } finally {
        clearTimeout(cut);
        await rm(socketPath, { force: true });
      }
    },
  };
}

/** The client went away inside a transaction: roll it back. */
class Abandoned extends Error {}
/** The client asked for a rollback. */
class RolledBack extends Error {}

/** Messages of one connection, in order; copy data goes straight to the copy it belongs to. */
class Inbox {
  private readonly queue: Request[] = [];
  private waiting: ((message: Request | null) => void) | null = null;
  private closed = false;
  private copying: CopyStream | null = null;
  readonly copies = new Map<Request, CopyStream>();

  constructor(private readonly socket: net.Socket) {
    readFrames(socket, (message) => this.receive(message as Request));
    socket.on('close', () => {
      this.closed = true;
      this.copying?.fail(new Error('the client went away during COPY'));
      this.waiting?.(null);
      this.waiting = null;
    });
    socket.on('error', () => {}); // followed by close
  }

  private receive(message: Request): void {
    if (message.op === 'chunk') return this.copying?.push(message.data);
    if (message.op === 'end') {
      if (message.error) this.copying?.fail(new Error(`the client could not read its COPY data: ${message.error}`));
      else this.copying?.end();
      this.copying = null;
      return;
    }
    if (message.op === 'copy') {
      this.copying = new CopyStream();
      this.copies.set(message, this.copying);
    }
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = null;
      resolve(message);
    } else this.queue.push(message);
  }

  /** The next request; null once the connection is closed, or after `idleMs` without one. */
  next(idleMs = 0): Promise<Request | null> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = idleMs > 0 ? setTimeout(() => {
        this.waiting = null;
        this.socket.destroy();
        resolve(null);
      }, idleMs) : null;
      this.waiting = (message) => {
        if (timer) clearTimeout(timer);
        resolve(message);
      };
    });
  }

  reply(reply: Reply): void {
    if (!this.socket.destroyed) this.socket.write(frame(reply));
  }
}

/** COPY data as it arrives, for the server's copyFrom (an async iterable). */
class CopyStream implements AsyncIterable<Uint8Array | string> {
  private readonly chunks: (Uint8Array | string)[] = [];
  private done = false;
  private error: Error | null = null;
  private wake: (() => void) | null = null;

  push(chunk: Uint8Array | string): void {
    this.chunks.push(chunk);
    this.notify();
  }

  end(): void {
    this.done = true;
    this.notify();
  }

  fail(error: Error): void {
    this.error ??= error;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array | string> {
    for (;;) {
      if (this.error) throw this.error;
      const chunk = this.chunks.shift();
      if (chunk !== undefined) {
        yield chunk;
        continue;
      }
      if (this.done) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

async function serveConnection(
  db: Database,
  info: ServerInfo,
  socket: net.Socket,
  options: AdminSocketOptions,
  between: { set(waiting: boolean): void },
): Promise<void> {
  const inbox = new Inbox(socket);
  const idleMs = options.idleMs ?? TRANSACTION_IDLE_MS;
  for (;;) {
    between.set(true);
    const request = await inbox.next();
    between.set(false);
    if (!request) return;
    try {
      switch (request.op) {
        case 'hello':
          inbox.reply({ ok: true, value: info });
          break;
        case 'begin':
          await serveTransaction(db, inbox, request, idleMs, options);
          break;
        default:
          inbox.reply({ ok: true, value: await topLevel(db, request) });
      }
    } catch (error) {
      inbox.reply({ ok: false, error: encodeError(error) });
    }
  }
}

async function topLevel(db: Database, request: Request): Promise<unknown> {
  switch (request.op) {
    case 'query':
      return db.query(request.sql, request.params, { prepare: request.prepare });
    case 'assertRoomFor':
      return db.assertRoomFor(request.bytes);
    case 'detectProfile':
      return db.detectProfile();
    default:
      throw new Error(`${request.op} is not a request outside a transaction`);
  }
}

async function serveTransaction(db: Database, inbox: Inbox, begin: Extract<Request, { op: 'begin' }>, idleMs: number, options: AdminSocketOptions): Promise<void> {
  const statements = (tx: Transaction, until: 'commit' | 'direct-done', began: unknown = null) => serveStatements(tx, inbox, until, began, begin.kind === 'filesAtRest' ? 0 : idleMs);
  try {
    switch (begin.kind) {
      case 'transaction':
        await db.transaction((tx) => statements(tx, 'commit'));
        break;
      case 'asUser':
        await db.asUser(begin.userId ?? null, (tx) => statements(tx, 'commit'), begin.settings);
        break;
      case 'loadAsUser':
        await db.loadAsUser(
          begin.userId!,
          (tx) => statements(tx, 'direct-done'),
          (tx) => statements(tx, 'commit'),
        );
        break;
      case 'filesAtRest':
        await withFilesAtRest(db, (tx, directory) => statements(tx, 'commit', { directory }));
        break;
    }
  } catch (error) {
    if (error instanceof RolledBack) return inbox.reply({ ok: true });
    if (error instanceof Abandoned) {
      options.log?.(`a lake command's transaction (${begin.kind}) was rolled back: ${error.message}`);
      return;
    }
    throw error;
  }
  inbox.reply({ ok: true }); // committed
}

/** Run the client's statements in `tx` until it says `until` (answered by the caller: the commit, or the next phase's start). */
async function serveStatements(tx: Transaction, inbox: Inbox, until: 'commit' | 'direct-done', began: unknown, idleMs: number): Promise<void> {
  inbox.reply({ ok: true, value: began });
  for (;;) {
    const request = await inbox.next(idleMs);
    if (!request) throw new Abandoned('the client went away (or was silent too long) before committing');
    if (request.op === until) return;
    if (request.op === 'rollback') throw new RolledBack();
    try {
      let value: unknown;
      switch (request.op) {
        case 'query':
          value = await tx.query(request.sql, request.params, { prepare: request.prepare });
          break;
        case 'exec':
          await tx.exec(request.sql);
          break;
        case 'copy': {
          const data = inbox.copies.get(request)!;
          inbox.copies.delete(request);
          value = await tx.copyFrom(request.table, request.columns, data, request.format);
          break;
        }
        default:
          throw new Error(`${request.op} is not a request inside a transaction`);
      }
      inbox.reply({ ok: true, value });
    } catch (error) {
      inbox.reply({ ok: false, error: encodeError(error) });
    }
  }
}
