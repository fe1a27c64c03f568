// The shape of the ids the lake makes (users, API keys, jobs, uploads, items): UUIDs, in the
// lower-case hex PostgreSQL prints. Checked before an id reaches a query or the disk: anything
// else names nothing, and a uuid cast would fail on it.
const HEX_UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

export const UUID_PATTERN = new RegExp(`^${HEX_UUID}$`);

/** A UUID in either case, unanchored, for a JSON Schema pattern (which takes no flags). */
export const UUID_ANY_CASE = HEX_UUID.replaceAll('a-f', 'a-fA-F');
