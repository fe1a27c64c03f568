// Query parameters shared by the /v1 routes: their JSON Schemas (checked by Fastify before a
// handler runs, and listed in the OpenAPI document) and the parsing that a schema cannot express
// (real calendar dates, ordered ranges, finite numbers). Every refusal is INVALID_REQUEST naming
// the parameter, in words (errors.ts).
import type { FastifyRequest } from 'fastify';
import { Type, type TSchema } from 'typebox';
import { LakeError } from '../errors.js';
import type { BoundingBox } from '../query/locations.js';
import type { TimeRange } from '../query/sql.js';
import { EXPECTED, validationFailure } from './errors.js';

/** The annotation for a parameter's expected form in words (errors.ts), for the routes' schemas. */
export { EXPECTED };

const INSTANT_PATTERN = '^(\\d{4})-(\\d{2})-(\\d{2})(?:T(\\d{2}):(\\d{2})(?::(\\d{2})(?:\\.\\d{1,9})?)?(Z|[+-]\\d{2}:?\\d{2}))?$';

export const InstantParam = (description: string) =>
  Type.String({
    pattern: INSTANT_PATTERN,
    description: `${description}: an ISO 8601 date (UTC midnight) or date-time with Z or an offset`,
    examples: ['2024-03-10', '2024-03-10T12:00:00Z'],
    [EXPECTED]: 'a date like 2024-01-31 or a date-time like 2024-01-31T12:00:00Z (Z or an offset such as +01:00)',
  });

/**
 * A numeric query parameter, declared with both ends of its range: every number a route takes
 * has a minimum and a maximum. Its text must also be a finite decimal number (screenParameters).
 */
export const IntegerParam = (options: { minimum: number; maximum: number; default?: number; description: string }) => Type.Integer(options);

export const NumberParam = (options: ({ minimum: number } | { exclusiveMinimum: number }) & { maximum: number; description: string }) => Type.Number(options);

export const TimeRangeParams = {
  from: Type.Optional(InstantParam('start of the time range, inclusive')),
  to: Type.Optional(InstantParam('end of the time range, exclusive')),
};

/** A list given as repeated parameters (`kinds=a&kinds=b`), comma-separated (`kinds=a,b`), or both. */
export const ListParam = (description: string) =>
  Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 100, description: `${description} (repeat the parameter or separate with commas)` });

export const CursorParam = Type.String({ minLength: 1, maxLength: 512, description: 'next_cursor of the previous page' });

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const ErrorBody = Type.Object(
  { error: Type.Object({ code: Type.String(), message: Type.String() }) },
  { description: 'an error: a stable code and a message' },
);

/**
 * The instants a date parameter may name: the years 0001 to 9998 in UTC. PostgreSQL has no year 0
 * (and the text of a Date before it is refused there), and the tiles' whole years, months and
 * days (query/tiles.ts) reach up to a year past `to`, which must stay a four-digit year.
 */
export const INSTANT_RANGE = { min: yearStart(1), max: yearStart(9999) } as const;
export const INSTANT_RANGE_TEXT = 'the years 0001 to 9998 (UTC)';

/** Midnight UTC of January 1st of a year, in ms (Date.UTC would take 0-99 for 1900-1999). */
function yearStart(year: number): number {
  return new Date(0).setUTCFullYear(year, 0, 1);
}

export function parseInstant(name: string, value: string): Date {
  const match = new RegExp(INSTANT_PATTERN).exec(value);
  if (!match) throw invalid(name, `${JSON.stringify(value)} is not an ISO 8601 date or date-time`);
  const [, year, month, day, hour = '0', minute = '0', second = '0'] = match;
  const date = new Date(value.length === 10 ? `${value}T00:00:00Z` : value);
  // setUTCFullYear, not Date.UTC: Date.UTC takes the years 0 to 99 for 1900 to 1999.
  const calendar = new Date(new Date(0).setUTCFullYear(Number(year), Number(month) - 1, Number(day)));
  // Date parsing rolls 2024-02-30 over to March 1st: compare the calendar parts it was given.
  const real =
    !Number.isNaN(date.getTime()) &&
    calendar.getUTCMonth() === Number(month) - 1 &&
    calendar.getUTCDate() === Number(day) &&
    Number(hour) < 24 &&
    Number(minute) < 60 &&
    Number(second) < 60;
  if (!real) throw invalid(name, `${JSON.stringify(value)} is not a real date or date-time`);
  if (date.getTime() < INSTANT_RANGE.min) throw invalid(name, `must be in the year 1 or later: dates are taken within ${INSTANT_RANGE_TEXT}, not ${JSON.stringify(value)}`);
  if (date.getTime() >= INSTANT_RANGE.max) throw invalid(name, `must be before the year 9999: dates are taken within ${INSTANT_RANGE_TEXT}, not ${JSON.stringify(value)}`);
  return date;
}

export function parseTimeRange(query: { from?: string | undefined; to?: string | undefined }): TimeRange {
  const from = query.from === undefined ? null : parseInstant('from', query.from);
  const to = query.to === undefined ? null : parseInstant('to', query.to);
  if (from && to && from.getTime() >= to.getTime()) throw invalid('to', 'must be later than `from`');
  return { from, to };
}

/** The values of a list parameter, split at commas, or null when it was not given. */
export function parseList(values: readonly string[] | undefined): string[] | null {
  if (values === undefined) return null;
  const items = values.flatMap((value) => value.split(',')).map((value) => value.trim()).filter(Boolean);
  return items.length > 0 ? [...new Set(items)] : null;
}

const NUMBER = '-?\\d{1,3}(?:\\.\\d+)?';
const BBOX_PATTERN = `^${NUMBER},${NUMBER},${NUMBER},${NUMBER}$`;
const NEAR_PATTERN = `^${NUMBER},${NUMBER}$`;

export const BboxParam = Type.String({
  pattern: BBOX_PATTERN,
  description: 'minLon,minLat,maxLon,maxLat in degrees (minLon > maxLon crosses the antimeridian)',
  [EXPECTED]: 'four numbers minLon,minLat,maxLon,maxLat in degrees, like 13.3,52.4,13.5,52.6',
});

export const NearParam = Type.String({
  pattern: NEAR_PATTERN,
  description: 'lat,lon of a centre; needs radius',
  [EXPECTED]: 'two numbers lat,lon in degrees, like 52.52,13.405',
});

/** minLon,minLat,maxLon,maxLat in degrees; minLon > maxLon crosses the antimeridian. */
export function parseBbox(text: string): BoundingBox {
  const [minLon, minLat, maxLon, maxLat] = text.split(',').map(Number) as [number, number, number, number];
  if (![minLon, maxLon].every((lon) => lon >= -180 && lon <= 180)) throw invalid('bbox', 'longitudes must be within -180..180');
  if (![minLat, maxLat].every((lat) => lat >= -90 && lat <= 90)) throw invalid('bbox', 'latitudes must be within -90..90');
  if (minLat > maxLat) throw invalid('bbox', 'minLat must not exceed maxLat (order: minLon,minLat,maxLon,maxLat)');
  return { minLon, minLat, maxLon, maxLat };
}

export function parseNear(text: string): { lat: number; lon: number } {
  const [lat, lon] = text.split(',').map(Number) as [number, number];
  if (!(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180)) throw invalid('near', `must be lat,lon within -90..90 and -180..180, not ${JSON.stringify(text)}`);
  return { lat, lon };
}

export function invalid(name: string, problem: string): LakeError {
  return new LakeError('INVALID_REQUEST', `\`${name}\` ${problem}`);
}

/**
 * The requests /v1/uploads hands to the tus server (all but GET): the tus protocol has no query
 * parameters, and what a client appends is ignored there (uploads.ts keeps it from the store).
 */
function isTusRequest(request: FastifyRequest): boolean {
  return request.method !== 'GET' && (request.routeOptions.url ?? '').startsWith('/v1/uploads');
}

/** A number written in decimal, optionally with an exponent: not Infinity, NaN, hex or blanks. */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

type PartSchema = { properties?: Record<string, { type?: unknown }> } | undefined;

/**
 * preValidation, for every route, what ajv would let through: a query or path parameter that is a number must be written as a
 * finite decimal number. Ajv's type coercion turns "Infinity" and "1e309" into Infinity, and its
 * minimum and maximum skip numbers that are not finite: such a value would pass every range (and
 * reach the SQL as 'Infinity'). Checked here, on the text, before ajv coerces it. A route that
 * declares no query parameters takes none, tus requests aside (ajv refuses the unknown ones of the
 * others).
 */
export async function screenParameters(request: FastifyRequest): Promise<void> {
  const schema = request.routeOptions.schema as Record<string, PartSchema> | undefined;
  const query = (request.query ?? {}) as Record<string, unknown>;
  if (!schema?.querystring && !isTusRequest(request)) {
    const unknown = Object.keys(query)[0];
    if (unknown !== undefined) {
      throw validationFailure('querystring', { keyword: 'additionalProperties', instancePath: '', params: { additionalProperty: unknown }, parentSchema: { properties: {} } });
    }
  }
  for (const [part, values] of [['querystring', query], ['params', request.params]] as const) {
    for (const [name, property] of Object.entries(schema?.[part]?.properties ?? {})) {
      if (property.type !== 'number' && property.type !== 'integer') continue;
      const value = (values as Record<string, unknown> | undefined)?.[name];
      for (const text of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
        if (typeof text === 'string' && DECIMAL.test(text) && Number.isFinite(Number(text))) continue;
        throw validationFailure(part, { keyword: 'finite', instancePath: `/${name}`, params: {}, parentSchema: property, data: text });
      }
    }
  }
}
