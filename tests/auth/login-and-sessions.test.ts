import request from 'supertest';
import { SESSION_TOUCH_INTERVAL_SECONDS } from '../../auth/sessions';
import { startStack, testConfig, type TestStack } from '../helpers/stack';
import { bearer, createUser, loginAs } from '../helpers/users';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(async () => {
  await stack.stop();
});

async function securityLog(login: string) {
  const { rows } = await stack.pool.query(
    `SELECT event, user_id AS "userId", login, remote_address AS "remoteAddress", detail FROM security_log WHERE login = $1 ORDER BY id`,
    [login],
  );
  return rows;
}

describe('POST /auth/login', () => {
  it('answers a token, its expiry and the user, and the token identifies the caller on GET /me', async () => {
    const user = await createUser(stack.pool, { roles: ['qa_lead', 'investigator'] });
    const res = await request(stack.app).post('/auth/login').send({ login: user.login.toUpperCase(), password: user.password }).expect(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body.token).toMatch(/^gxps_[A-Za-z0-9_-]{40,}$/);
    const expiresIn = new Date(res.body.expiresAt).getTime() - Date.now();
    expect(expiresIn).toBeGreaterThan(11.9 * 3600_000);
    expect(expiresIn).toBeLessThanOrEqual(12 * 3600_000);
    expect(res.body.idleTimeoutSeconds).toBe(30 * 60);
    expect(res.body.user).toMatchObject({
      id: user.id,
      login: user.login,
      printedName: user.printedName,
      roles: ['qa_lead', 'investigator'],
      active: true,
    });
    expect(JSON.stringify(res.body)).not.toMatch(/password_hash|scrypt/);

    const me = await request(stack.app).get('/me').set(bearer(res.body.token)).expect(200);
    expect(me.body).toMatchObject({ id: user.id, login: user.login, printedName: user.printedName, kind: 'user' });

    // Only the token's SHA-256 is stored.
    const { rows } = await stack.pool.query(`SELECT token_hash FROM sessions WHERE user_id = $1`, [user.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0].token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0].token_hash).not.toContain(res.body.token);
  });

  it('answers a wrong password and an unknown login with the same 401, and records both in the security log', async () => {
    const user = await createUser(stack.pool, { roles: ['qa_approver'] });
    const wrong = await request(stack.app)
      .post('/auth/login')
      .set('X-Forwarded-For', '203.0.113.9')
      .send({ login: user.login, password: 'not-the-password-at-all' })
      .expect(401);
    const unknown = await request(stack.app)
      .post('/auth/login')
      .send({ login: `nobody-${user.login}`, password: user.password })
      .expect(401);
    expect(wrong.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(wrong.body).toEqual(unknown.body);
    expect(wrong.body).toEqual({
      type: 'about:blank',
      title: 'Unauthorized',
      status: 401,
      detail: 'The login or password is not correct.',
    });

    const logged = await securityLog(user.login);
    expect(logged).toEqual([expect.objectContaining({ event: 'login_failed', userId: user.id, detail: { reason: 'wrong_password' } })]);
    expect(logged[0].remoteAddress).toBeTruthy();
    expect(await securityLog(`nobody-${user.login}`)).toEqual([
      expect.objectContaining({ event: 'login_failed', userId: null, detail: { reason: 'unknown_login' } }),
    ]);
    // The attempted password is nowhere in the log.
    const { rows } = await stack.pool.query(`SELECT count(*)::int AS n FROM security_log WHERE detail::text LIKE '%not-the-password%'`);
    expect(rows[0].n).toBe(0);
  });

  it('refuses a deactivated user with the same 401', async () => {
    const user = await createUser(stack.pool, { roles: ['production'] });
    await stack.pool.query(`UPDATE users SET active = false WHERE id = $1`, [user.id]);
    const res = await request(stack.app).post('/auth/login').send({ login: user.login, password: user.password }).expect(401);
    expect(res.body.detail).toBe('The login or password is not correct.');
    expect(await securityLog(user.login)).toEqual([expect.objectContaining({ detail: { reason: 'inactive_user' } })]);
  });

  it('refuses a malformed body with 400 naming the fields', async () => {
    const res = await request(stack.app).post('/auth/login').send({ user: 'x' }).expect(400);
    expect(res.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['(body)', 'login', 'password']);
  });
});

describe('sessions', () => {
  it('answers 401 problem+json with a WWW-Authenticate challenge when no credential is sent', async () => {
    const res = await request(stack.app).get('/me').expect(401);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    await request(stack.app).get('/me').set('Authorization', 'Bearer gxps_made-up-token-made-up-token-made-up').expect(401);
    await request(stack.app).get('/me').set('Authorization', 'Basic dXNlcjpwYXNz').expect(401);
  });

  it('ends the session at logout: the token is refused afterwards', async () => {
    const user = await createUser(stack.pool, { roles: ['it'] });
    const token = await loginAs(stack.app, user.login, user.password);
    await request(stack.app).get('/me').set(bearer(token)).expect(200);
    await request(stack.app).post('/auth/logout').set(bearer(token)).expect(204);
    const res = await request(stack.app).get('/me').set(bearer(token)).expect(401);
    expect(res.body.detail).toMatch(/expired or is not valid/);
  });

  it('expires a session idle for longer than SESSION_IDLE_MINUTES, and activity keeps it alive', async () => {
    const user = await createUser(stack.pool, { roles: ['validation'] });
    const token = await loginAs(stack.app, user.login, user.password);
    // 29 minutes idle: still valid, and the request restarts the idle clock.
    await stack.pool.query(`UPDATE sessions SET last_seen_at = now() - interval '29 minutes' WHERE user_id = $1`, [user.id]);
    await request(stack.app).get('/me').set(bearer(token)).expect(200);
    const { rows } = await stack.pool.query(`SELECT now() - last_seen_at < interval '1 minute' AS fresh FROM sessions WHERE user_id = $1`, [
      user.id,
    ]);
    expect(rows[0].fresh).toBe(true);
    // 31 minutes idle: gone, and a later request does not revive it.
    await stack.pool.query(`UPDATE sessions SET last_seen_at = now() - interval '31 minutes' WHERE user_id = $1`, [user.id]);
    await request(stack.app).get('/me').set(bearer(token)).expect(401);
    await request(stack.app).get('/me').set(bearer(token)).expect(401);
  });

  it('restarts the idle clock at most every few seconds: a session used just now is read, not written', async () => {
    const user = await createUser(stack.pool, { roles: ['validation'] });
    const token = await loginAs(stack.app, user.login, user.password);
    const lastSeen = () =>
      stack.pool
        .query<{ at: Date }>(`SELECT last_seen_at AS at FROM sessions WHERE user_id = $1`, [user.id])
        .then((r) => r.rows[0]!.at.getTime());
    await stack.pool.query(`UPDATE sessions SET last_seen_at = now() - make_interval(secs => $2) WHERE user_id = $1`, [
      user.id,
      SESSION_TOUCH_INTERVAL_SECONDS / 2,
    ]);
    const recent = await lastSeen();
    await request(stack.app).get('/me').set(bearer(token)).expect(200);
    expect(await lastSeen()).toBe(recent);
    await stack.pool.query(`UPDATE sessions SET last_seen_at = now() - make_interval(secs => $2) WHERE user_id = $1`, [
      user.id,
      SESSION_TOUCH_INTERVAL_SECONDS * 2,
    ]);
    const stale = await lastSeen();
    await request(stack.app).get('/me').set(bearer(token)).expect(200);
    expect(await lastSeen()).toBeGreaterThan(stale);
  });

  it('refuses a token past its absolute lifetime however recently it was used', async () => {
    const user = await createUser(stack.pool, { roles: ['capa_owner'] });
    const token = await loginAs(stack.app, user.login, user.password);
    await stack.pool.query(`UPDATE sessions SET expires_at = now() - interval '1 second' WHERE user_id = $1`, [user.id]);
    await request(stack.app).get('/me').set(bearer(token)).expect(401);
  });

  it('refuses the sessions of a user deactivated after signing in', async () => {
    const user = await createUser(stack.pool, { roles: ['qa_lead'] });
    const token = await loginAs(stack.app, user.login, user.password);
    await stack.pool.query(`UPDATE users SET active = false WHERE id = $1`, [user.id]);
    await request(stack.app).get('/me').set(bearer(token)).expect(401);
  });

  it('honours a configured idle limit', async () => {
    const short = await startStack({ worker: false, config: testConfig({ SESSION_IDLE_MINUTES: '5' }) });
    try {
      const user = await createUser(short.pool, { roles: ['qa_lead'] });
      const login = await request(short.app).post('/auth/login').send({ login: user.login, password: user.password }).expect(200);
      expect(login.body.idleTimeoutSeconds).toBe(300);
      await short.pool.query(`UPDATE sessions SET last_seen_at = now() - interval '6 minutes' WHERE user_id = $1`, [user.id]);
      await request(short.app).get('/me').set(bearer(login.body.token)).expect(401);
    } finally {
      await short.stop();
    }
  });
});
