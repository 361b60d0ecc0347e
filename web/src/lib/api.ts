/**
 * The one way the app talks to the API. The session is an HttpOnly cookie the page cannot read
 * (api/session-cookie.ts): requests go with `credentials: 'same-origin'`, and every request that
 * changes something carries `X-CSRF: 1`, which a cross-site page cannot send. No token is ever
 * kept in JavaScript-readable storage.
 */
export interface FieldProblem {
  path: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string | undefined,
    readonly errors: FieldProblem[],
    readonly body: Record<string, unknown>,
    readonly sessionEnded: boolean,
  ) {
    super(detail ?? title);
  }
}

type Listener = () => void;
const sessionEndedListeners = new Set<Listener>();
/** Called when the server says the session is gone (expired, idle, revoked). */
export function onSessionEnded(listener: Listener): () => void {
  sessionEndedListeners.add(listener);
  return () => sessionEndedListeners.delete(listener);
}

const activityListeners = new Set<Listener>();
/** Called after every answered request (the server's idle clock restarted). */
export function onApiActivity(listener: Listener): () => void {
  activityListeners.add(listener);
  return () => activityListeners.delete(listener);
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

async function problemOf(res: Response): Promise<ApiError> {
  let body: Record<string, unknown> = {};
  try {
    body = (await res.json()) as Record<string, unknown>;
  } catch {
    body = {};
  }
  const errors = Array.isArray(body.errors) ? (body.errors as FieldProblem[]) : [];
  // A 401 ends the session only when it is about the session (the server then asks for credentials);
  // a wrong password at signing is a 401 of the signature, not of the session.
  const sessionEnded = res.status === 401 && res.headers.has('WWW-Authenticate');
  return new ApiError(
    res.status,
    String(body.title ?? res.statusText),
    typeof body.detail === 'string' ? body.detail : undefined,
    errors,
    body,
    sessionEnded,
  );
}

export async function apiFetch(path: string, opts: RequestOptions = {}): Promise<Response> {
  const method = opts.method ?? 'GET';
  const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
  if (method !== 'GET') headers['X-CSRF'] = '1';
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    signal: opts.signal,
  });
  if (!res.ok) {
    const problem = await problemOf(res);
    if (problem.sessionEnded && path !== '/auth/login') sessionEndedListeners.forEach((l) => l());
    throw problem;
  }
  activityListeners.forEach((l) => l());
  return res;
}

/** JSON in, JSON out; a refusal throws ApiError with the problem's fields. */
export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const res = await apiFetch(path, opts);
  if (res.status === 204) return undefined as T;
  const type = res.headers.get('Content-Type') ?? '';
  return (type.includes('json') ? await res.json() : await res.text()) as T;
}

/** A query string from the defined values only. */
export function qs(params: Record<string, string | number | boolean | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** What to tell a person about a refusal: 409 (the process does not allow it now) explained, not swallowed. */
export function explain(err: unknown): { title: string; message: string } {
  if (!(err instanceof ApiError)) return { title: 'Something went wrong', message: err instanceof Error ? err.message : String(err) };
  const detail = err.detail ?? err.title;
  switch (err.status) {
    case 400:
      return { title: 'Some fields need attention', message: detail };
    case 401:
      return { title: err.sessionEnded ? 'Signed out' : 'Not verified', message: detail };
    case 403:
      return { title: 'Not allowed for you', message: detail };
    case 404:
      return { title: 'Not found', message: detail };
    case 409:
      return {
        title: 'Not possible at this point of the lifecycle',
        message: `${detail} The deviation may have moved on since the page was loaded; it has been refreshed.`,
      };
    case 423:
      return { title: 'Signing is locked', message: detail };
    case 429:
      return { title: 'Too many attempts', message: detail };
    default:
      return { title: `The server answered ${err.status}`, message: detail };
  }
}

/** Field problems keyed by their first path segment (and by the full path). */
export function fieldErrors(
  problems: ReadonlyArray<{ path: string | ReadonlyArray<PropertyKey>; message: string }>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of problems) {
    const full = typeof p.path === 'string' ? p.path : p.path.map(String).join('.');
    const first = full.split('.')[0] ?? full;
    out[full] ??= p.message;
    out[first] ??= p.message;
  }
  return out;
}
