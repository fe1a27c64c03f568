// The contract every data source implements: recognise a file from its first bytes and its path,
// then stream its records. Each source declares itself once, as a SourceEntry in the entries.ts of
// its folder (sources/<provider>/<product>/ or sources/formats/<format>/), listed by the registry
// (sources/registry.ts); its parser module builds the Source from that entry (defineSource).
import type { Readable } from 'node:stream';
import type { Database } from '../db/database.js';
import type { BlobStore } from '../store/blob-store.js';
import type { ParseEvent, RepairCounts } from './records.js';

export interface Probe {
  /** Path of the file inside the export (`Takeout/Location History/Records.json`), `/`-separated. */
  path: string;
  /** The first bytes of the file (up to 64 KiB; fewer for a short file). */
  head: Buffer;
  size: number;
}

/**
 * How sure a source is that a file is its own: content shape beats path (Takeout names are
 * localized), so sources return `content` only when the head's structure matches, `path` when
 * only the name does. `fallback` is for the generic document sources (sources/formats/documents/): they
 * take a file only when no other source does, whatever its name says.
 */
export type Confidence = 'content' | 'path' | 'fallback';

export interface ParseContext {
  /** The file's path inside the export, for messages. */
  path: string;
  /** Repairs are counted here as text is normalized. */
  repairs: RepairCounts;
  /**
   * Where files kept as they are go (photos, attachments, documents): a source puts the content
   * here and yields a `blob_ref` record for it. Null when the import keeps no files (some tests);
   * sources then load their metadata only.
   */
  blobs?: BlobStore | null;
  /**
   * When the export was made, as far as the archive tells (the entry's modification time): the
   * date of facts that carry none (YouTube subscriptions). Stable across re-imports of the same
   * export, so such records keep their keys. Null when unknown.
   */
  exportedAt?: Date | null;
}

export interface Source {
  /** Stable id, stored with every record: `google.location.records`, `google.myactivity.json`... */
  id: string;
  /** What the report calls this format. */
  description: string;
  detect(probe: Probe): Confidence | null;
  /**
   * Streams the file's records in order. Must read the input incrementally (files can be many GB)
   * and yield rejections for bad values instead of throwing; throws only when the file as a whole
   * cannot be read further (a `ParseError` naming the byte offset).
   */
  parse(input: Readable, context: ParseContext): AsyncIterable<ParseEvent>;
  /**
   * Called by the runner once at the end of every import in which this source read a file (the
   * same function shared by several sources is called once): for work that joins what several
   * files gave, such as photos and their sidecars. Must be idempotent: a killed import calls it
   * again on the next run. Notes it returns are added to the report of the file at `path`.
   */
  afterImport?(db: Database, userId: string): Promise<ReadonlyArray<{ path: string; note: string }> | void>;
}

/**
 * A source as the registry knows it before its parser is loaded: enough to recognise its files.
 * Entries live in light modules (each folder's entries.ts, which import no parser), so that the
 * runner detects with every entry but loads only the parsers of the files it meets, and a parse
 * worker, told where the parser is, loads that module alone.
 */
export interface SourceEntry {
  /** Stable id, stored with every record and file row: never change one. */
  id: string;
  description: string;
  /** Cheap: runs on the head of every file of an import. */
  detect(probe: Probe): Confidence | null;
  /**
   * Its parser needs nothing but its input and context.path/exportedAt (no blob store, no
   * database), so a large file of its may be parsed in a worker thread
   * (ingest/pipeline/parse-in-worker.ts).
   */
  standalone: boolean;
  /** Where its parser is, imported on first use (loadParser): a Source with this entry's id. */
  parser: ParserModule;
}

/** A parser module, by URL (it can cross to a worker thread), and the name it exports its Source under. */
export interface ParserModule {
  url: string;
  name: string;
}

/** `specifier` relative to `base` (the declaring module's import.meta.url) and its export `name`. */
export function parserAt(base: string, specifier: string, name: string): ParserModule {
  return { url: new URL(specifier, base).href, name };
}

/**
 * Detection of a text format by its opening: `content` when the head (as UTF-8, past a byte order
 * mark and white space; its first KiB is enough) matches `opening`, an expression anchored with
 * `^`; else `path` when the path matches `name`; else null.
 */
export function detectByOpening(probe: Probe, opening: RegExp, name: RegExp): Confidence | null {
  const head = probe.head.subarray(0, 1024).toString('utf8').replace(/^\ufeff/, '').trimStart();
  if (opening.test(head)) return 'content';
  return name.test(probe.path) ? 'path' : null;
}

/** Imports the parser module (once: the module loader keeps it) and returns its Source. */
export async function loadParser(parser: ParserModule): Promise<Source> {
  const exported = ((await import(parser.url)) as Record<string, unknown>)[parser.name] as Source | undefined;
  if (typeof exported?.parse !== 'function') throw new Error(`${parser.url} exports no source named ${parser.name}`);
  return exported;
}

/** The source a parser module exports: its entry's id, description and detection, with the parser. */
export function defineSource(entry: SourceEntry, parser: Pick<Source, 'parse' | 'afterImport'>): Source {
  return { id: entry.id, description: entry.description, detect: entry.detect, ...parser };
}
