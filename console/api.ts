// The console's one way to the API: every call carries `Authorization: Bearer <key>`, the key kept
// in sessionStorage (gone with the tab). Images are fetched the same way and shown as blob: URLs.
const KEY = 'lake.key';
const USER = 'lake.user';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const session = {
  get key(): string | null {
    return sessionStorage.getItem(KEY);
  },
  get user(): string | null {
    return sessionStorage.getItem(USER);
  },
  set(key: string, user: string | null) {
    sessionStorage.setItem(KEY, key);
    if (user) sessionStorage.setItem(USER, user);
    else sessionStorage.removeItem(USER);
  },
  clear() {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(USER);
  },
};

/** Called when the key is refused (401): the app goes back to sign-in. */
let onUnauthorized: () => void = () => {};
export function whenUnauthorized(handler: () => void) {
  onUnauthorized = handler;
}

export function authHeaders(key = session.key): Record<string, string> {
  return key ? { authorization: `Bearer ${key}` } : {};
}

async function failure(response: Response): Promise<ApiError> {
  let code = 'HTTP';
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.code) code = body.error.code;
    if (body.error?.message) message = body.error.message;
  } catch {}
  return new ApiError(response.status, code, message);
}

export async function request(path: string, init: RequestInit = {}, key = session.key): Promise<Response> {
  const response = await fetch(path, { ...init, headers: { ...authHeaders(key), ...(init.headers as Record<string, string> | undefined) } });
  if (response.status === 401 && key) onUnauthorized();
  if (!response.ok) throw await failure(response);
  return response;
}

export async function getJson<T = any>(path: string, params: Record<string, string | number | undefined> = {}, signal?: AbortSignal): Promise<T> {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined && value !== '') query.set(name, String(value));
  const url = query.size ? `${path}?${query}` : path;
  return (await request(url, signal ? { signal } : {})).json() as Promise<T>;
}

export async function postJson<T = any>(path: string, body: unknown, key = session.key): Promise<T> {
  const response = await request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, key);
  return response.json() as Promise<T>;
}

/** Every page of a paged list, up to `max` rows. */
export async function allPages<T>(path: string, field: string, params: Record<string, string | number | undefined>, max: number, signal?: AbortSignal): Promise<T[]> {
  const rows: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await getJson<Record<string, unknown> & { next_cursor: string | null }>(path, { ...params, cursor }, signal);
    rows.push(...((page[field] as T[]) ?? []));
    cursor = page.next_cursor ?? undefined;
  } while (cursor && rows.length < max);
  return rows;
}

/** An image fetched with the key, as a blob: URL for an <img>; revoke it when the image goes. */
export async function imageUrl(path: string, signal?: AbortSignal): Promise<string> {
  const response = await request(path, signal ? { signal } : {});
  return URL.createObjectURL(await response.blob());
}
