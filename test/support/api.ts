// A real API server for tests: built from a test lake, listening on 127.0.0.1 on a free port,
// spoken to over HTTP with fetch.
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/api/server.js';
import type { Lake } from '../../src/lake.js';

export interface TestServer {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

export async function startTestServer(lake: Lake): Promise<TestServer> {
  const app = await buildServer(lake, { logLevel: process.env.LAKE_TEST_API_LOG ? 'error' : false });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url, close: () => app.close() };
}

export interface Reply<Body = any> {
  status: number;
  headers: Headers;
  body: Body;
  text: string;
}

/** GET a path with an API key (or none), the body parsed as JSON when it is JSON. */
export async function get<Body = any>(server: TestServer, path: string, key?: string): Promise<Reply<Body>> {
  const response = await fetch(server.url + path, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  const text = await response.text();
  const json = (response.headers.get('content-type') ?? '').startsWith('application/json');
  return { status: response.status, headers: response.headers, body: json ? JSON.parse(text) : undefined, text };
}

/** Follow next_cursor from the first page to the last, returning every page's body. */
export async function allPages<Body extends { next_cursor: string | null }>(server: TestServer, path: string, key: string): Promise<Body[]> {
  const pages: Body[] = [];
  let cursor: string | null = null;
  do {
    const separator = path.includes('?') ? '&' : '?';
    const reply: Reply<Body> = await get<Body>(server, cursor === null ? path : `${path}${separator}cursor=${encodeURIComponent(cursor)}`, key);
    if (reply.status !== 200) throw new Error(`${path}: ${reply.status} ${reply.text}`);
    pages.push(reply.body);
    cursor = reply.body.next_cursor;
    if (pages.length > 10_000) throw new Error(`${path}: pagination does not end`);
  } while (cursor !== null);
  return pages;
}
