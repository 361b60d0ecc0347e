/**
 * The browser session: an HttpOnly, SameSite=Strict cookie set at sign-in, accepted in place of
 * `Authorization: Bearer`, with the CSRF rule (X-CSRF: 1 on every change) — on a stand-in app, so
 * the middleware is tested on its own, without the database.
 */
import express, { type Request } from 'express';
import request from 'supertest';
import { problemHandler } from '../../api/problem';
import { csrfRefusal, sessionCookies, sessionTokenFromCookie, setSessionCookie, SESSION_COOKIE } from '../../api/session-cookie';
import { createLogger } from '../../lib/logger';

const TOKEN = 'gxps_abcDEF123-_xyz';

/** A stand-in for the API: login answers a token; every other route echoes what authenticate() would see. */
function app(opts: { trustProxy?: boolean } = {}) {
  const a = express();
  if (opts.trustProxy) a.set('trust proxy', 1);
  a.use(express.json());
  a.use(sessionCookies());
  a.post('/auth/login', (req, res) => {
    if (req.body?.password !== 'right') return void res.status(401).set('WWW-Authenticate', 'Bearer').json({ title: 'Unauthorized' });
    res.json({ token: TOKEN, expiresAt: new Date(Date.now() + 3600_000).toISOString(), idleTimeoutSeconds: 1800, user: { login: 'ada' } });
  });
  a.post('/auth/logout', (_req, res) => void res.status(204).end());
  a.get('/expired', (_req, res) => void res.status(401).set('WWW-Authenticate', 'Bearer').json({ title: 'Unauthorized' }));
  a.post('/sign', (_req, res) => void res.status(401).json({ title: 'Unauthorized', detail: 'wrong password at signing' }));
  a.all(
    '/echo',
    (req, res) => void res.json({ authorization: req.get('Authorization') ?? null, viaCookie: req.viaSessionCookie ?? false }),
  );
  a.use(problemHandler(createLogger('test', 'silent')));
  return a;
}

const cookieOf = (res: request.Response) =>
  ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith(`${SESSION_COOKIE}=`));

describe('session cookie', () => {
  it('is set at a sign-in from the web app (X-CSRF: 1): HttpOnly, SameSite=Strict, Path=/, not Secure over http; the token stays out of the body', async () => {
    const res = await request(app()).post('/auth/login').set('X-CSRF', '1').send({ login: 'ada', password: 'right' });
    expect(res.status).toBe(200);
    const cookie = cookieOf(res)!;
    expect(cookie).toContain(`${SESSION_COOKIE}=${TOKEN}`);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Strict/);
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).toMatch(/; Max-Age=3[56]\d\d/);
    expect(cookie).not.toMatch(/Secure/);
    expect(res.body.token).toBeUndefined();
    expect(res.body).toMatchObject({ session: 'cookie', idleTimeoutSeconds: 1800, user: { login: 'ada' } });
  });

  it('is Secure when the request came over https', async () => {
    const res = await request(app({ trustProxy: true }))
      .post('/auth/login')
      .set('X-CSRF', '1')
      .set('X-Forwarded-Proto', 'https')
      .send({ login: 'ada', password: 'right' });
    expect(cookieOf(res)).toMatch(/; Secure/);
  });

  it('is not set for a sign-in without X-CSRF (curl, scripts), which still gets its token; nor for a refused one', async () => {
    const plain = await request(app()).post('/auth/login').send({ login: 'ada', password: 'right' });
    expect(cookieOf(plain)).toBeUndefined();
    expect(plain.body.token).toBe(TOKEN);
    const wrong = await request(app()).post('/auth/login').set('X-CSRF', '1').send({ login: 'ada', password: 'wrong' });
    expect(wrong.status).toBe(401);
    expect(cookieOf(wrong)).toBeUndefined();
  });

  it('authenticates a read by the cookie alone, as a Bearer token', async () => {
    const res = await request(app()).get('/echo').set('Cookie', `other=1; ${SESSION_COOKIE}=${TOKEN}`);
    expect(res.body).toEqual({ authorization: `Bearer ${TOKEN}`, viaCookie: true });
  });

  it.each(['POST', 'PATCH', 'DELETE', 'PUT'])(
    'refuses a %s authenticated by the cookie without X-CSRF: 1, and lets it through with it',
    async (method) => {
      const m = method.toLowerCase() as 'post' | 'patch' | 'delete' | 'put';
      const refused = await request(app())[m]('/echo').set('Cookie', `${SESSION_COOKIE}=${TOKEN}`);
      expect(refused.status).toBe(403);
      expect(refused.headers['content-type']).toMatch(/problem\+json/);
      expect(refused.body.detail).toMatch(/X-CSRF: 1/);
      const wrongValue = await request(app())[m]('/echo').set('Cookie', `${SESSION_COOKIE}=${TOKEN}`).set('X-CSRF', 'yes');
      expect(wrongValue.status).toBe(403);
      const allowed = await request(app())[m]('/echo').set('Cookie', `${SESSION_COOKIE}=${TOKEN}`).set('X-CSRF', '1');
      expect(allowed.status).toBe(200);
      expect(allowed.body.viaCookie).toBe(true);
    },
  );

  it('leaves Bearer and API-key clients alone: their header wins over the cookie and no CSRF header is asked', async () => {
    const bearer = await request(app()).post('/echo').set('Cookie', `${SESSION_COOKIE}=${TOKEN}`).set('Authorization', 'Bearer gxps_other');
    expect(bearer.body).toEqual({ authorization: 'Bearer gxps_other', viaCookie: false });
    const key = await request(app()).post('/echo').set('Cookie', `${SESSION_COOKIE}=${TOKEN}`).set('X-API-Key', 'k');
    expect(key.body).toEqual({ authorization: null, viaCookie: false });
  });

  it('clears the cookie at sign-out and when the session is refused, but not at a wrong signing password', async () => {
    const out = await request(app()).post('/auth/logout').set('Cookie', `${SESSION_COOKIE}=${TOKEN}`).set('X-CSRF', '1');
    expect(out.status).toBe(204);
    expect(cookieOf(out)).toMatch(/^gxp_session=; .*Max-Age=0/);
    const expired = await request(app()).get('/expired').set('Cookie', `${SESSION_COOKIE}=${TOKEN}`);
    expect(cookieOf(expired)).toMatch(/Max-Age=0/);
    const signing = await request(app()).post('/sign').set('Cookie', `${SESSION_COOKIE}=${TOKEN}`).set('X-CSRF', '1');
    expect(signing.status).toBe(401);
    expect(cookieOf(signing)).toBeUndefined();
  });

  it('reads the token only from its own cookie, and only when it is cookie-safe', () => {
    const req = (cookie?: string) => ({ headers: cookie === undefined ? {} : { cookie } }) as Request;
    expect(sessionTokenFromCookie(req())).toBeUndefined();
    expect(sessionTokenFromCookie(req('a=1; b=2'))).toBeUndefined();
    expect(sessionTokenFromCookie(req(`x${SESSION_COOKIE}=nope; ${SESSION_COOKIE}=${TOKEN}`))).toBe(TOKEN);
    expect(sessionTokenFromCookie(req(`${SESSION_COOKIE}="quoted;"`))).toBeUndefined();
    expect(sessionTokenFromCookie(req(`${SESSION_COOKIE}=${'a'.repeat(201)}`))).toBeUndefined();
  });

  it('asks the CSRF header of changes only', () => {
    const req = (method: string, csrf?: string) =>
      ({ method, get: (h: string) => (h.toLowerCase() === 'x-csrf' ? csrf : undefined) }) as unknown as Request;
    expect(csrfRefusal(req('GET'))).toBeNull();
    expect(csrfRefusal(req('HEAD'))).toBeNull();
    expect(csrfRefusal(req('POST', '1'))).toBeNull();
    expect(csrfRefusal(req('POST'))?.status).toBe(403);
  });

  it('refuses to write a token that would need quoting in a cookie', () => {
    const res = { append: jest.fn() } as unknown as express.Response;
    expect(() => setSessionCookie({ secure: false } as Request, res, 'a;b')).toThrow();
  });
});
