// Every failure of the API becomes `{ "error": { "code", "message" } }` with the HTTP status of its
// code in the catalogue (src/errors.ts): one place, for every route and for unknown routes. A
// request that fails its schema (query, path, headers, body) is told in words what is wrong with
// which parameter: ajv's own messages name the part rather than the parameter and quote patterns.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERRORS, LakeError, type ErrorCode } from '../errors.js';

export interface ErrorResponse {
  status: number;
  code: ErrorCode;
  message: string;
}

/** Framework statuses (malformed JSON, wrong content type, body too large...) to catalogue codes. */
const FRAMEWORK_STATUS_CODES: Record<number, ErrorCode> = {
  400: 'INVALID_REQUEST',
  401: 'UNAUTHORIZED',
  404: 'NOT_FOUND',
  408: 'REQUEST_TIMEOUT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  503: 'NOT_READY',
};

/**
 * A schema's words for the form its value must take, said when a value does not match its pattern
 * or format (a regular expression means nothing to most readers). An OpenAPI extension: ajv is
 * told it is an annotation (server.ts), and clients see it in /openapi.json.
 */
export const EXPECTED = 'x-expected';

/** One failed check, as ajv reports it with `verbose` (server.ts): the schema and value at fault. */
export interface ValidationIssue {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
  parentSchema?: Record<string, unknown>;
  data?: unknown;
}

/** Where the value was, as Fastify names the parts of a request. */
type RequestPart = 'querystring' | 'params' | 'headers' | 'body';

const PART_WORDS: Record<RequestPart, string> = { querystring: 'query parameter', params: 'path parameter', headers: 'header', body: 'field' };

const FORMAT_WORDS: Record<string, string> = {
  uuid: 'a UUID like 0b6e54c4-6f4e-4b0e-9a51-5b3a9b1f2c3d',
  'date-time': 'a date-time like 2024-01-31T12:00:00Z',
  date: 'a date like 2024-01-31',
};

const TYPE_WORDS: Record<string, string> = {
  string: 'text', boolean: 'true or false', array: 'a list', object: 'a JSON object', null: 'null', integer: 'a whole number', number: 'a number',
};

/** A failure like Fastify's own validation errors (FST_ERR_VALIDATION), for checks made outside ajv. */
export function validationFailure(part: RequestPart, issue: ValidationIssue): FastifyError {
  return Object.assign(new Error(issue.message ?? issue.keyword), { code: 'FST_ERR_VALIDATION', statusCode: 400, validation: [issue], validationContext: part }) as unknown as FastifyError;
}

/**
 * A value as the message shows it: strings quoted, a list's items joined with commas, and cut
 * short. Only one level is shown: a list or object inside is `[...]` or `{...}` (String() of a
 * deeply nested array recurses, and a body of 400,000 nested arrays overflowed the stack).
 */
function shown(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : Array.isArray(value) ? value.slice(0, 60).map(flat).join(',') : flat(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** A value without what is inside it: `[...]` for a list, `{...}` for an object. */
function flat(value: unknown): string {
  if (Array.isArray(value)) return '[...]';
  if (typeof value === 'object' && value !== null) return '{...}';
  return String(value);
}

/** "from 1 to 1000", "greater than 0 and at most 20037509"... */
function rangeWords(schema: Record<string, unknown>): string {
  if (typeof schema.minimum === 'number' && typeof schema.maximum === 'number') return `from ${schema.minimum} to ${schema.maximum}`;
  const low = typeof schema.exclusiveMinimum === 'number' ? `greater than ${schema.exclusiveMinimum}` : typeof schema.minimum === 'number' ? `at least ${schema.minimum}` : null;
  const high = typeof schema.exclusiveMaximum === 'number' ? `less than ${schema.exclusiveMaximum}` : typeof schema.maximum === 'number' ? `at most ${schema.maximum}` : null;
  return [low, high].filter(Boolean).join(' and ');
}

/** The words for one failed check: the parameter by name, what it must be, what it was. */
export function describeValidation(part: RequestPart, issue: ValidationIssue): string {
  const kind = PART_WORDS[part] ?? 'value';
  const path = issue.instancePath.split('/').slice(1).map((step) => step.replace(/~1/g, '/').replace(/~0/g, '~'));
  const name = path.join('.');
  const where = part === 'body' && name !== '' ? ` in \`${name}\`` : part === 'body' ? ' in the body' : '';
  const schema = issue.parentSchema ?? {};
  switch (issue.keyword) {
    case 'additionalProperties': {
      const extra = String(issue.params.additionalProperty);
      if (part !== 'querystring') return `unknown ${kind} \`${extra}\`${where}`;
      const known = Object.keys((schema.properties as object | undefined) ?? {});
      return `unknown query parameter \`${extra}\` (${known.length > 0 ? `this route takes ${known.join(', ')}` : 'this route takes none'})`;
    }
    case 'required':
      return `${kind} \`${String(issue.params.missingProperty)}\` is required${where}`;
  }
  const subject = name === '' ? (part === 'body' ? 'the body' : `the ${kind}s`) : `\`${name}\``;
  const given = 'data' in issue ? `, not ${shown(issue.data)}` : '';
  if (schema.type === 'integer' || schema.type === 'number') {
    const range = rangeWords(schema);
    return `${subject} must be ${schema.type === 'integer' ? 'a whole number' : 'a finite number'}${range ? ` ${range}` : ''}${given}`;
  }
  switch (issue.keyword) {
    case 'pattern':
    case 'format': {
      const format = typeof schema.format === 'string' ? FORMAT_WORDS[schema.format] : undefined;
      const expected = (schema[EXPECTED] as string | undefined) ?? format ?? (typeof schema.description === 'string' ? schema.description : 'in the form /openapi.json describes');
      return `${subject} must be ${expected}${given}`;
    }
    case 'enum':
      return `${subject} must be one of ${((schema.enum as unknown[] | undefined) ?? []).map(String).join(', ')}${given}`;
    case 'minLength':
    case 'maxLength':
      return `${subject} must be ${schema.minLength ?? 0} to ${schema.maxLength ?? 'any number of'} characters long`;
    case 'minItems':
    case 'maxItems':
      return `${subject} takes ${schema.minItems ?? 0} to ${schema.maxItems ?? 'any number of'} values`;
    case 'type': {
      const types = [issue.params.type].flat().map((type) => TYPE_WORDS[String(type)] ?? String(type));
      return `${subject} must be ${types.join(' or ')}${given}`;
    }
  }
  // Ajv's message for what is left (const, anyOf...) quotes no pattern.
  return `${subject} ${issue.message ?? 'is not valid'}`;
}

/** SQLSTATE 57014 (query_canceled: statement_timeout) or Fastify's handlerTimeout: the request ran too long. */
function isTimeout(error: { code?: unknown }): boolean {
  return error.code === '57014' || error.code === 'FST_ERR_HANDLER_TIMEOUT';
}

/** Connection failures (SQLSTATE class 08, server shutting down 57P0x, sockets): the database is away. */
function isDatabaseUnreachable(error: { code?: unknown }): boolean {
  const code = typeof error.code === 'string' ? error.code : '';
  return /^08/.test(code) || /^57P0[1-3]$/.test(code) || ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(code);
}

export function describeError(error: unknown): ErrorResponse {
  if (error instanceof LakeError) return { status: error.httpStatus, code: error.code, message: error.message };
  const fastifyError = error as Partial<FastifyError>;
  if (fastifyError.validation) {
    const issue = fastifyError.validation[0] as ValidationIssue | undefined;
    const part = (fastifyError.validationContext ?? 'body') as RequestPart;
    return { status: 400, code: 'INVALID_REQUEST', message: issue ? describeValidation(part, issue) : (fastifyError.message ?? 'invalid request') };
  }
  if (typeof error === 'object' && error !== null && isTimeout(error)) {
    return { status: ERRORS.TIMEOUT.http, code: 'TIMEOUT', message: 'the request took longer than the server allows (LAKE_API_TIMEOUT_MS)' };
  }
  // The router's refusals, before any route: in words, as the request's fault.
  if (fastifyError.code === 'FST_ERR_MAX_PARAM_LENGTH') return { status: 400, code: 'INVALID_REQUEST', message: `a path parameter is longer than ${MAX_PARAM_LENGTH} characters` };
  if (fastifyError.code === 'FST_ERR_BAD_URL') return { status: 400, code: 'INVALID_REQUEST', message: 'the path is not valid percent-encoding' };
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return { status, code: FRAMEWORK_STATUS_CODES[status] ?? 'INVALID_REQUEST', message: fastifyError.message ?? 'invalid request' };
  }
  if (typeof error === 'object' && error !== null && isDatabaseUnreachable(error)) {
    return { status: ERRORS.DB_UNREACHABLE.http, code: 'DB_UNREACHABLE', message: 'the database cannot be reached' };
  }
  // Anything else is a fault of the lake: logged in full, answered without internals.
  return { status: 500, code: 'INTERNAL', message: 'internal error' };
}

/** Fastify's maxParamLength, its default: longer path parameters are refused by the router. */
export const MAX_PARAM_LENGTH = 100;

/**
 * Fastify's `frameworkErrors` option: what the router refuses before a route is found (a path
 * parameter over maxParamLength, a malformed URL) would otherwise be answered in Fastify's shape.
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const { status, code, message } = describeError(error);
  if (status >= 500) request.log.error({ err: error }, `${request.method} ${request.url} failed`);
  void reply.status(status).send({ error: { code, message } });
}

/**
 * JSON bodies nested deeper than this are refused (400) before they are parsed: parsing 400,000
 * nested arrays took V8 half a second, and code that walks a value recursively (String() of an
 * array, JSON.stringify) overflows the stack long before that. No body the API takes comes near.
 */
export const MAX_JSON_DEPTH = 128;

/** The deepest nesting of arrays and objects in JSON text, outside strings; stops counting past `limit`. */
export function jsonDepth(text: string, limit = MAX_JSON_DEPTH): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return deepest;
}

/**
 * Every failure in the API's error shape, and JSON bodies read by Fastify's own parser (with its
 * protection against __proto__ and constructor keys) once their depth is known to be bounded.
 */
export function installErrorHandling(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (jsonDepth(body as string) > MAX_JSON_DEPTH) {
      done(new LakeError('INVALID_REQUEST', `the JSON body is nested more than ${MAX_JSON_DEPTH} levels deep`), undefined);
      return;
    }
    parseJson(request, body as string, done);
  });
  app.setErrorHandler((error, request, reply) => {
    const { status, code, message } = describeError(error);
    if (status >= 500) request.log.error({ err: error }, `${request.method} ${request.url} failed`);
    if (status === 401) reply.header('www-authenticate', 'Bearer realm="lake"');
    return reply.status(status).send({ error: { code, message } });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` } }),
  );
}
