import request from 'supertest';
import { JSON_MAX_DEPTH, nestsDeeperThan } from '../../api/body-limits';
import { startStack, type TestStack } from '../helpers/stack';
import { bearer, createUser, loginAs, type TestUser } from '../helpers/users';

/**
 * A body nested deeper than the limit is refused (400 problem+json) by the body parser, before any
 * route handler or the audit middleware runs: a 20,000-level body on POST /auth/logout used to be
 * answered 500 after the session had been ended, with no audit row.
 */
let stack: TestStack;
let user: TestUser;
beforeAll(async () => {
  stack = await startStack({ worker: false });
  user = await createUser(stack.pool, { roles: ['investigator'] });
});
afterAll(async () => {
  await stack.stop();
});

const nested = (levels: number) => `{"reason":${'['.repeat(levels - 1)}${']'.repeat(levels - 1)}}`;
const logout = (token: string, body: string) =>
  request(stack.app).post('/auth/logout').set(bearer(token)).set('Content-Type', 'application/json').send(body);
const auditRowsOf = async (login: string) =>
  Number(
    (await stack.pool.query(`SELECT count(*) FROM audit_trail WHERE actor = $1 AND action = 'POST /auth/logout'`, [login])).rows[0].count,
  );

describe('the JSON nesting limit', () => {
  it('counts depth without parsing, ignoring brackets inside strings', () => {
    expect(nestsDeeperThan(nested(JSON_MAX_DEPTH), JSON_MAX_DEPTH)).toBe(false);
    expect(nestsDeeperThan(nested(JSON_MAX_DEPTH + 1), JSON_MAX_DEPTH)).toBe(true);
    expect(nestsDeeperThan(JSON.stringify({ a: '[[[[{{{{\\"[[[[' }), 2)).toBe(false);
    expect(nestsDeeperThan(nested(20_000), JSON_MAX_DEPTH)).toBe(true);
  });

  it('refuses a body 20,000 levels deep on POST /auth/logout with 400, before the handler: the session stays, nothing is audited', async () => {
    const token = await loginAs(stack.app, user.login, user.password);
    const res = await logout(token, nested(20_000)).expect(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({
      status: 400,
      detail: `The body nests deeper than ${JSON_MAX_DEPTH} levels.`,
      errors: [{ path: '(body)', message: `nests deeper than ${JSON_MAX_DEPTH} levels` }],
    });
    await request(stack.app).get('/me').set(bearer(token)).expect(200);
    expect(await auditRowsOf(user.login)).toBe(0);
  });

  it('refuses one level past the limit, and takes a body at the limit (the change made, and audited)', async () => {
    const token = await loginAs(stack.app, user.login, user.password);
    await logout(token, nested(JSON_MAX_DEPTH + 1)).expect(400);
    await request(stack.app).get('/me').set(bearer(token)).expect(200);
    await logout(token, nested(JSON_MAX_DEPTH)).expect(204);
    await request(stack.app).get('/me').set(bearer(token)).expect(401);
    expect(await auditRowsOf(user.login)).toBe(1);
  });
});
