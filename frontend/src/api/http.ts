import { getKey, requestKey } from './keys';

/** The API's error body {"error": {"code", "message", "details"}}, or a network failure (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The API is unreachable or its storage is down: worth retrying later. */
  get unavailable(): boolean {
    return this.status === 0 || this.status === 502 || this.status === 503 || this.status === 504;
  }
}

type Query = Record<string, string | number | boolean | undefined | null | Array<string | number>>;

export function withQuery(path: string, q?: Query): string {
  if (!q) return path;
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) v.forEach((x) => p.append(k, String(x)));
    else p.append(k, String(v));
  }
  const s = p.toString();
  return s ? `${path}?${s}` : path;
}

export interface RequestOptions {
  method?: string;
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
}

/**
 * api calls the Pulse API and returns the parsed JSON. Failures become ApiError: the API's own
 * error body when there is one, else a readable message. A 401 also asks the user for a key.
 * Every request that may write says Content-Type: application/json, even without a body (a
 * like): the API refuses writes of any other type, or of none, as cross-site forms send those.
 */
export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  const key = getKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  const method = opts.method ?? (body === undefined ? 'GET' : 'POST');
  if (method !== 'GET' && method !== 'HEAD') headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(withQuery(path, opts.query), {
      method,
      headers,
      body,
      signal: opts.signal,
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', 'Cannot reach the Pulse API. Is the server running?');
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (res.ok) return json as T;
  if (res.status === 401) requestKey();
  const e = (json as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
  const retry = Number(res.headers.get('Retry-After')) || undefined;
  throw new ApiError(
    res.status,
    e?.code ?? `http_${res.status}`,
    e?.message ?? `${res.status} ${res.statusText || 'error'} from ${path}`,
    e?.details,
    retry,
  );
}

/** errorText is what an error state shows for err. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 401) return 'This Pulse needs an API key. Set one with the key button at the top right.';
    if (err.status === 403 && err.code === 'forbidden')
      return 'This needs a full API key (PULSE_API_KEYS): the key in use may only read counts and search, and send events.';
    return err.message;
  }
  return err instanceof Error ? err.message : String(err);
}
