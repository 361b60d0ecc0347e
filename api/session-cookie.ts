import type { Request, RequestHandler, Response } from 'express';
import { HttpProblem } from './problem';

/**
 * The browser's session: the opaque session token in an HttpOnly, SameSite=Strict cookie, so no
 * script on the page (an injected one included) can read it; and a CSRF rule for requests the
 * cookie authenticates. Machine clients and curl keep using `Authorization: Bearer` or `X-API-Key`,
 * which take precedence over the cookie.
 *
 * CSRF: a cookie-authenticated request that changes something (POST, PUT, PATCH, DELETE) must
 * carry `X-CSRF: 1`. A cross-site page cannot add a custom header without a CORS preflight, and the
 * API never grants one (it sends no Access-Control-Allow-* header), so such a request can only
 * come from the product's own pages. SameSite=Strict already keeps the cookie off cross-site
 * requests; the header is the second, independent line.
 */
export const SESSION_COOKIE = 'gxp_session';
export const CSRF_HEADER = 'X-CSRF';

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** True for methods that change something (the ones the CSRF rule covers). */
export const isUnsafeMethod = (method: string) => UNSAFE_METHODS.has(method.toUpperCase());

/** True when the request carries the CSRF header with the value the app sends. */
export const hasCsrfHeader = (req: Request) => req.get(CSRF_HEADER)?.trim() === '1';

/** The cookie's attributes; Secure only when the request came over https (req.secure honours `trust proxy`). */
function cookieAttributes(req: Request, maxAgeSeconds: number): string {
  return [
    `Path=/`,
    `HttpOnly`,
    `SameSite=Strict`,
    `Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`,
    ...(req.secure ? ['Secure'] : []),
  ].join('; ');
}

/** Session tokens are base64url after a prefix: nothing that needs quoting in a cookie value. */
const COOKIE_SAFE = /^[A-Za-z0-9._~-]{1,200}$/;

/**
 * Sets the session cookie after a successful sign-in. `expiresAt` is the session's absolute end
 * (the cookie goes at the same time; the idle timeout is enforced by the server as for tokens).
 */
export function setSessionCookie(req: Request, res: Response, token: string, expiresAt?: Date | string): void {
  if (!COOKIE_SAFE.test(token)) throw new Error('a session token must be cookie-safe');
  const ends = expiresAt === undefined ? NaN : new Date(expiresAt).getTime();
  const maxAge = Number.isFinite(ends) ? (ends - Date.now()) / 1000 : 12 * 3600;
  res.append('Set-Cookie', `${SESSION_COOKIE}=${token}; ${cookieAttributes(req, maxAge)}`);
}

/** Removes the session cookie (after sign-out, or when the session it names is gone). */
export function clearSessionCookie(req: Request, res: Response): void {
  res.append('Set-Cookie', `${SESSION_COOKIE}=; ${cookieAttributes(req, 0)}; Expires=Thu, 01 Jan 1970 00:00:00 GMT`);
}

/** The session token from the request's `gxp_session` cookie, or undefined. */
export function sessionTokenFromCookie(req: Pick<Request, 'headers'>): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const value = part.slice(eq + 1).trim();
    return COOKIE_SAFE.test(value) ? value : undefined;
  }
  return undefined;
}

/**
 * The CSRF rule for a request authenticated by the cookie: null when it may go on, otherwise the
 * 403 problem to answer with.
 */
export function csrfRefusal(req: Request): HttpProblem | null {
  if (!isUnsafeMethod(req.method) || hasCsrfHeader(req)) return null;
  return new HttpProblem(
    403,
    'Forbidden',
    `A request authenticated by the session cookie that changes something must send the header ${CSRF_HEADER}: 1.`,
  );
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** True when the credential came from the session cookie (set by sessionCookies()). */
      viaSessionCookie?: boolean;
    }
  }
}

/**
 * One middleware for the whole cookie session, mounted before every route in api/app.ts:
 *
 * - a request without `Authorization` and without `X-API-Key` but with the session cookie is
 *   authenticated by the cookie: the CSRF rule applies (403 without `X-CSRF: 1` on a change), then
 *   the token is handed to authenticate() as `Authorization: Bearer <token>`, so every route,
 *   role check, idle timeout and password-must-change rule works exactly as for a Bearer client;
 * - `POST /auth/login` sent with `X-CSRF: 1` (the web app's sign-in) gets the cookie on success,
 *   and its answer does not carry the token (the page never sees it); a login without the header
 *   (curl, scripts) is answered as before, with the token and no cookie;
 * - `POST /auth/logout` that succeeds, and a 401 about the session (one with WWW-Authenticate,
 *   not a wrong password at signing) answered to a cookie-authenticated request, clear the cookie.
 */
export function sessionCookies(): RequestHandler {
  return (req, res, next) => {
    const path = req.path;
    if (req.method === 'POST' && path === '/auth/login' && hasCsrfHeader(req)) {
      const json = res.json.bind(res);
      res.json = (body: unknown) => {
        if (
          res.statusCode >= 200 &&
          res.statusCode < 300 &&
          body &&
          typeof body === 'object' &&
          typeof (body as { token?: unknown }).token === 'string'
        ) {
          const { token, ...rest } = body as { token: string; expiresAt?: string | Date };
          setSessionCookie(req, res, token, rest.expiresAt);
          return json({ ...rest, session: 'cookie' });
        }
        return json(body);
      };
      return next();
    }

    const token = req.get('Authorization') === undefined && req.get('X-API-Key') === undefined ? sessionTokenFromCookie(req) : undefined;
    if (token === undefined) return next();
    const refusal = csrfRefusal(req);
    if (refusal) return next(refusal);
    req.headers.authorization = `Bearer ${token}`;
    req.viaSessionCookie = true;

    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      // A 401 about the session carries WWW-Authenticate (api/auth.ts); a wrong password at signing does not.
      const endsSession =
        (res.statusCode === 401 && res.get('WWW-Authenticate') !== undefined) ||
        (req.method === 'POST' && path === '/auth/logout' && res.statusCode < 300);
      if (endsSession) clearSessionCookie(req, res);
      return json(body);
    };
    if (req.method === 'POST' && path === '/auth/logout') {
      const end = res.end.bind(res) as (...args: unknown[]) => Response;
      (res as { end: (...args: unknown[]) => Response }).end = (...args: unknown[]) => {
        if (res.statusCode < 300 && !res.headersSent) clearSessionCookie(req, res);
        return end(...args);
      };
    }
    return next();
  };
}
