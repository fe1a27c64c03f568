// The web console (issue 17): a single-page app whose sources are in console/ at the package's
// root, built by esbuild into node_modules/.cache/datapunk-lake/console/<fingerprint>/ the first
// time `lake serve` is asked for it and again whenever a source or a bundled package changes (as
// bin/compiled.js does for the server: a checkout has no build step), and served from there:
//
//   GET /                      index.html (no-cache, ETag)
//   GET /console/<file>        the bundle, its CSS, the MapLibre worker and the basemap, named by
//                              their content's hash and cached for a year
//   GET /console/basemap.pmtiles  the optional street tiles of LAKE_CONSOLE_PMTILES, with Range
//
// Nothing the console loads comes from another origin: a strict Content-Security-Policy says so.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Bumped when the build itself changes in a way the fingerprint of its inputs would not show. */
const BUILD_FORMAT = 2;
/** Packages whose files end up in the build: a new version of any of them means a new build. */
const BUNDLED = ['esbuild', 'maplibre-gl', 'pmtiles', 'tus-js-client', 'topojson-client', 'world-atlas'];
const COMPLETE = '.complete';

export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  // MapLibre starts its workers from the worker file (same origin) or, where it must, a blob: URL.
  "worker-src 'self' blob:",
  // Thumbnails are fetched with the API key and shown through blob: URLs; MapLibre uses data: images.
  "img-src 'self' blob: data:",
  "style-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.json']);

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
};

export interface ConsoleFile {
  path: string;
  type: string;
  etag: string;
  size: number;
  /** Its gzip copy (text files), sent to clients that accept gzip. */
  gzip: { path: string; size: number } | null;
}

export interface ConsoleBuild {
  directory: string;
  /** By the name under /console/ (index.html included). */
  files: Map<string, ConsoleFile>;
}

/** The package's root: the first directory above this module with the lake's package.json (the compiled tree lives under node_modules). */
export function packageRoot(from = path.dirname(fileURLToPath(import.meta.url))): string {
  for (let directory = from; ; directory = path.dirname(directory)) {
    const manifest = path.join(directory, 'package.json');
    if (existsSync(manifest)) {
      try {
        const { name } = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string };
        if (name === 'datapunk-lake') return directory;
      } catch {}
    }
    if (path.dirname(directory) === directory) throw new Error(`the lake's package.json was not found above ${from}`);
  }
}

async function listFiles(directory: string, relative = ''): Promise<string[]> {
  const entries = await readdir(path.join(directory, relative), { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) => {
      const name = path.join(relative, entry.name);
      return entry.isDirectory() ? listFiles(directory, name) : Promise.resolve([name]);
    }),
  );
  return nested.flat().sort();
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** The fingerprint of everything the build reads: the console's sources, this module, the bundled packages' versions. */
async function fingerprint(root: string): Promise<string> {
  const hash = createHash('sha256').update(`format ${BUILD_FORMAT}\0`);
  const sources = path.join(root, 'console');
  for (const file of await listFiles(sources)) {
    const { size, mtimeMs } = await stat(path.join(sources, file));
    hash.update(`${file}\0${size}\0${mtimeMs}\0`);
  }
  const self = fileURLToPath(import.meta.url);
  hash.update(await readFile(self));
  for (const name of BUNDLED) {
    const { version } = JSON.parse(await readFile(path.join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
    hash.update(`${name}@${version}\0`);
  }
  return hash.digest('hex').slice(0, 16);
}

/** Copy `source` into `directory` as `<stem>-<first 12 hex of its SHA-256><ext>`; its name. */
async function copyHashed(source: string, directory: string, stem: string, extension: string): Promise<string> {
  const bytes = await readFile(source);
  const name = `${stem}-${sha256(bytes).slice(0, 12)}${extension}`;
  await writeFile(path.join(directory, name), bytes);
  return name;
}

async function build(root: string, tree: string): Promise<void> {
  const { build: esbuild } = await import('esbuild');
  const partial = `${tree}.${process.pid}.${Date.now()}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  const modules = path.join(root, 'node_modules');
  // MapLibre runs its tiles in a module worker started from this file (same origin: no blob: needed).
  const worker = await copyHashed(path.join(modules, 'maplibre-gl', 'dist', 'maplibre-gl-worker.mjs'), partial, 'maplibre-gl-worker', '.mjs');
  // Natural Earth 1:50m countries (world-atlas, TopoJSON): the basemap, drawn without any tile server.
  const basemap = await copyHashed(path.join(modules, 'world-atlas', 'countries-50m.json'), partial, 'countries-50m', '.json');
  const result = await esbuild({
    entryPoints: { app: path.join(root, 'console', 'main.ts') },
    outdir: partial,
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome110', 'firefox115', 'safari16'],
    minify: true,
    sourcemap: 'linked',
    metafile: true,
    legalComments: 'linked',
    tsconfig: path.join(root, 'console', 'tsconfig.json'),
    define: {
      __CONSOLE_WORKER__: JSON.stringify(`/console/${worker}`),
      __CONSOLE_BASEMAP__: JSON.stringify(`/console/${basemap}`),
    },
    logLevel: 'silent',
  });
  const outputs = Object.keys(result.metafile.outputs).map((file) => path.basename(file));
  const script = outputs.find((name) => name.startsWith('app-') && name.endsWith('.js'));
  const style = outputs.find((name) => name.startsWith('app-') && name.endsWith('.css'));
  if (!script || !style) throw new Error(`console build: no script or stylesheet among ${outputs.join(', ')}`);
  const template = await readFile(path.join(root, 'console', 'index.html'), 'utf8');
  const html = template.replaceAll('{{script}}', `/console/${script}`).replaceAll('{{style}}', `/console/${style}`);
  await writeFile(path.join(partial, 'index.html'), html);
  // Gzip copies of what compresses (the bundle, 1.2 MB, is about a quarter of that): a phone on
  // the home network loads the console in a fraction of the time.
  for (const name of await listFiles(partial)) {
    if (!COMPRESSIBLE.has(path.extname(name)) || name.endsWith('.map')) continue;
    await writeFile(path.join(partial, `${name}.gz`), gzipSync(await readFile(path.join(partial, name)), { level: 9 }));
  }
  await writeFile(path.join(partial, COMPLETE), '');
  try {
    await rename(partial, tree);
  } catch (error) {
    await rm(partial, { recursive: true, force: true });
    if (!existsSync(path.join(tree, COMPLETE))) throw error; // else another process built it first
  }
}

/** Serves a built console tree: what is in it, with types and ETags. */
async function describe(tree: string): Promise<ConsoleBuild> {
  const files = new Map<string, ConsoleFile>();
  const names = await listFiles(tree);
  const present = new Set(names);
  for (const name of names) {
    if (name === COMPLETE || name.endsWith('.gz')) continue;
    const file = path.join(tree, name);
    const bytes = await readFile(file);
    const type = TYPES[path.extname(name)] ?? (name.endsWith('.LEGAL.txt') ? 'text/plain; charset=utf-8' : 'application/octet-stream');
    const gzip = present.has(`${name}.gz`) ? { path: `${file}.gz`, size: (await stat(`${file}.gz`)).size } : null;
    files.set(name, { path: file, type, etag: `"${sha256(bytes).slice(0, 32)}"`, size: bytes.length, gzip });
  }
  return { directory: tree, files };
}

/**
 * The console built for the sources as they are now, building it first if needed: under
 * node_modules/.cache, or under `fallbackCache` (LAKE_CACHE_DIR) where node_modules is not
 * writable (a package installed by another user).
 */
export async function consoleBuild(root = packageRoot(), fallbackCache?: string): Promise<ConsoleBuild> {
  try {
    return await buildIn(root, path.join(root, 'node_modules', '.cache', 'datapunk-lake', 'console'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (!fallbackCache || (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS')) throw error;
    return buildIn(root, path.join(fallbackCache, 'console'));
  }
}

async function buildIn(root: string, cache: string): Promise<ConsoleBuild> {
  const tree = path.join(cache, await fingerprint(root));
  if (!existsSync(path.join(tree, COMPLETE))) {
    await mkdir(cache, { recursive: true });
    await build(root, tree);
    // Builds of older sources go once a newer one is in place, and builds cut off an hour ago.
    for (const name of await readdir(cache)) {
      const other = path.join(cache, name);
      if (other === tree) continue;
      if (name.endsWith('.partial') && Date.now() - (await stat(other)).mtimeMs < 3_600_000) continue;
      await rm(other, { recursive: true, force: true });
    }
  }
  return describe(tree);
}

export interface ConsoleOptions {
  /** A PMTiles file of streets (LAKE_CONSOLE_PMTILES), served at /console/basemap.pmtiles. */
  pmtiles?: string | undefined;
  /** Where to build when node_modules is not writable (the lake's cache directory). */
  cacheDir?: string | undefined;
}

/**
 * GET / and /console/*. The build is made on the first request (a second or two) and kept for
 * the process; `warm()` starts it at once (lake serve).
 */
export function consoleRoutes(app: FastifyInstance, options: ConsoleOptions = {}): { warm(): Promise<void> } {
  let built: Promise<ConsoleBuild> | null = null;
  const current = () => {
    built ??= consoleBuild(packageRoot(), options.cacheDir).catch((error) => {
      built = null; // the next request tries again
      throw error;
    });
    return built;
  };
  const secure = (reply: FastifyReply) =>
    reply
      .header('content-security-policy', CONSOLE_CSP)
      .header('referrer-policy', 'no-referrer')
      .header('cross-origin-opener-policy', 'same-origin');

  const send = async (file: ConsoleFile, immutable: boolean, headers: FastifyRequest['headers'], reply: FastifyReply) => {
    // The gzip copy is another representation: an ETag of its own, and caches told to vary.
    const gzip = file.gzip && /\bgzip\b/.test(String(headers['accept-encoding'] ?? '')) ? file.gzip : null;
    const etag = gzip ? `${file.etag.slice(0, -1)}-gz"` : file.etag;
    secure(reply)
      .header('etag', etag)
      .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
      .type(file.type);
    if (file.gzip) reply.header('vary', 'accept-encoding');
    if (headers['if-none-match']?.split(',').some((tag) => tag.trim() === etag)) return reply.code(304).send();
    if (gzip) return reply.header('content-encoding', 'gzip').header('content-length', gzip.size).send(createReadStream(gzip.path));
    return reply.header('content-length', file.size).send(createReadStream(file.path));
  };

  const schema = { hide: true };
  app.get('/', { schema }, async (request, reply) => {
    const { files } = await current();
    return send(files.get('index.html')!, false, request.headers, reply);
  });
  app.get('/console/basemap.pmtiles', { schema }, async (request, reply) => {
    if (!options.pmtiles) return reply.code(404).send({ error: { code: 'NOT_FOUND', message: 'no street tiles: LAKE_CONSOLE_PMTILES is not set' } });
    return sendRange(options.pmtiles, request.headers.range, secure(reply));
  });
  app.get<{ Params: { name: string } }>('/console/:name', { schema }, async (request, reply) => {
    const { files } = await current();
    const file = files.get(request.params.name);
    if (!file || request.params.name === 'index.html') return reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no console file ${request.params.name}` } });
    return send(file, true, request.headers, reply);
  });
  return {
    warm: async () => {
      await current();
    },
  };
}

const PMTILES = 'application/vnd.pmtiles';

/** A file with one byte range (PMTiles readers ask for ranges), 206/416 as for blobs. */
async function sendRange(file: string, range: string | undefined, reply: FastifyReply) {
  const { size, mtimeMs } = await stat(file);
  reply.header('accept-ranges', 'bytes').header('etag', `"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"`).header('cache-control', 'no-cache');
  const match = range ? /^bytes=(\d*)-(\d*)$/.exec(range.trim()) : null;
  if (!match || (match[1] === '' && match[2] === '')) return reply.type(PMTILES).header('content-length', size).send(createReadStream(file));
  let start: number;
  let end: number;
  if (match[1] === '') {
    start = Math.max(0, size - Number(match[2]));
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  if (start >= size || end < start) {
    return reply.code(416).type('application/json').header('content-range', `bytes */${size}`).send({ error: { code: 'RANGE_NOT_SATISFIABLE', message: `range ${range} is outside the file's ${size} bytes` } });
  }
  return reply
    .code(206)
    .type(PMTILES)
    .header('content-range', `bytes ${start}-${end}/${size}`)
    .header('content-length', end - start + 1)
    .send(createReadStream(file, { start, end }));
}
