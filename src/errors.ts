// The error catalogue: every failure the lake reports has a stable code, a process exit code and
// an HTTP status, and a message that names the setting, file, entry or byte offset concerned.
// One place (cli/main.ts, later api/) turns these into exit codes and responses.

export const ERRORS = {
  CONFIG_INVALID: { exit: 2, http: 500 },
  USAGE: { exit: 2, http: 400 },
  DATA_DIR_UNWRITABLE: { exit: 3, http: 500 },
  DATA_DIR_LOCKED: { exit: 3, http: 503 },
  /** The data directory belongs to another database than the one configured (its blobs are that lake's). */
  DATA_DIR_MISMATCH: { exit: 3, http: 500 },
  /** No room left on a disk the lake writes to (data directory, blob store, uploads, the database's): free space and run the same command again. */
  DISK_FULL: { exit: 7, http: 507 },
  DB_UNREACHABLE: { exit: 4, http: 503 },
  DB_AUTH_FAILED: { exit: 4, http: 503 },
  DB_NOT_FOUND: { exit: 4, http: 503 },
  DB_UNSAFE_ROLE: { exit: 4, http: 500 },
  DB_ERROR: { exit: 4, http: 500 },
  /** The embedded database's files were made by a PostgreSQL major version this PGlite cannot open. */
  DB_VERSION_UNSUPPORTED: { exit: 4, http: 500 },
  MIGRATION_FAILED: { exit: 5, http: 500 },
  MIGRATION_CHANGED: { exit: 5, http: 500 },
  SCHEMA_OUTDATED: { exit: 5, http: 503 },
  PARSE_ERROR: { exit: 6, http: 422 },
  UNSUPPORTED_FORMAT: { exit: 6, http: 415 },
  ARCHIVE_UNSAFE: { exit: 6, http: 422 },
  ARCHIVE_INVALID: { exit: 6, http: 422 },
  /** A path given to `lake import` that does not exist: a usage error, found before any job is made. */
  INPUT_NOT_FOUND: { exit: 2, http: 400 },
  /** An input, or a file or folder inside one, that this process may not read (EACCES, EPERM). */
  INPUT_UNREADABLE: { exit: 6, http: 422 },
  NOT_FOUND: { exit: 1, http: 404 },
  BLOB_NOT_FOUND: { exit: 1, http: 404 },
  BLOB_CORRUPT: { exit: 1, http: 500 },
  // The HTTP API (src/api/): a request refused for what it is, or a failure nobody catalogued.
  INVALID_REQUEST: { exit: 2, http: 400 },
  UNAUTHORIZED: { exit: 2, http: 401 },
  ALREADY_EXISTS: { exit: 6, http: 409 },
  PAYLOAD_TOO_LARGE: { exit: 6, http: 413 },
  UNSUPPORTED_MEDIA_TYPE: { exit: 6, http: 415 },
  NOT_READY: { exit: 1, http: 503 },
  RATE_LIMITED: { exit: 1, http: 429 },
  /** The request took longer than LAKE_API_TIMEOUT_MS (its query was cancelled). */
  TIMEOUT: { exit: 1, http: 503 },
  /** The client took too long to send its request. */
  REQUEST_TIMEOUT: { exit: 1, http: 408 },
  /** A request that contradicts the current state (an upload offset that does not match, a job that cannot be retried now). */
  CONFLICT: { exit: 1, http: 409 },
  /** An upload that expired before it was finished, or was refused. */
  GONE: { exit: 1, http: 410 },
  /** A finished upload whose SHA-256 is not the one its client declared (tus's Checksum Mismatch status). */
  CHECKSUM_MISMATCH: { exit: 6, http: 460 },
  /** A backup file, blob copy or manifest that fails its checks (cut short, a byte changed, a file missing): named with the offset. */
  BACKUP_CORRUPT: { exit: 8, http: 500 },
  /** A backup is encrypted and no key is configured, or the configured key is not the one it was made with. */
  BACKUP_KEY: { exit: 8, http: 500 },
  BACKUP_NOT_FOUND: { exit: 1, http: 404 },
  /** A restore asked into a place that already holds a database, blobs or other files: nothing is overwritten. */
  RESTORE_TARGET_NOT_EMPTY: { exit: 3, http: 409 },
  /** A backup or archive made by a newer lake (a schema with migrations this one does not have). */
  SCHEMA_TOO_NEW: { exit: 5, http: 422 },
  INTERNAL: { exit: 1, http: 500 },
} as const satisfies Record<string, { exit: number; http: number }>;

export type ErrorCode = keyof typeof ERRORS;

export class LakeError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, { cause: options.cause });
    this.name = 'LakeError';
    this.code = code;
    this.details = options.details ?? {};
  }

  get exitCode(): number {
    return ERRORS[this.code].exit;
  }

  get httpStatus(): number {
    return ERRORS[this.code].http;
  }
}

/** A file that cannot be read further: names the file and the byte offset where reading stopped. */
export class ParseError extends LakeError {
  readonly path: string;
  readonly byteOffset: number;

  constructor(path: string, byteOffset: number, problem: string, options: { cause?: unknown } = {}) {
    super('PARSE_ERROR', `${path}: ${problem} at byte ${byteOffset}`, { ...options, details: { path, byteOffset } });
    this.path = path;
    this.byteOffset = byteOffset;
  }
}
