import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { startStack, type TestStack } from '../helpers/stack';
import { bearer, createApiKey, signedInUser } from '../helpers/users';

/**
 * The audit append is made to fail for real: a CHECK on audit_trail, in this run's own database,
 * refuses rows whose actor starts with `refuse-audit-`. Only this file's actors have such logins,
 * so test files running alongside are untouched. NOT VALID: existing rows are not scanned.
 */
const REFUSED_PREFIX = 'refuse-audit-';
const constraint = `test_refuse_audit_${randomBytes(4).toString('hex')}`;

let stack: TestStack;
let admin: Awaited<ReturnType<typeof signedInUser>>;
beforeAll(async () => {
  stack = await startStack({ worker: false });
  admin = await signedInUser(stack.app, stack.pool, {
    roles: ['admin'],
    login: `${REFUSED_PREFIX}admin.${randomBytes(4).toString('hex')}`,
  });
  // DDL takes no parameters; the name is built from hex digits above, the pattern is a constant.
  await stack.pool.query(`ALTER TABLE audit_trail ADD CONSTRAINT ${constraint} CHECK (actor NOT LIKE 'refuse-audit-%') NOT VALID`);
});
afterAll(async () => {
  await stack.pool.query(`ALTER TABLE audit_trail DROP CONSTRAINT IF EXISTS ${constraint}`);
  await stack.stop();
});

function expectServerProblem(res: request.Response): void {
  expect(res.status).toBeGreaterThanOrEqual(500);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status: res.status, title: expect.any(String) });
}

const userRow = async (id: string) =>
  (
    await stack.pool.query(
      `SELECT printed_name, roles, active, password_hash, password_must_change, signing_locked_until FROM users WHERE id = $1`,
      [id],
    )
  ).rows[0];

describe('account changes whose audit row cannot be written', () => {
  it('are rolled back: the route answers 5xx problem+json and nothing has changed', async () => {
    // POST /users
    const login = `not.created.${Date.now()}`;
    expectServerProblem(
      await request(stack.app)
        .post('/users')
        .set(bearer(admin.token))
        .send({ login, printedName: 'Never Created', email: 'never@example.com', roles: ['it'], password: 'tulips in the spring 1' }),
    );
    expect((await stack.pool.query(`SELECT count(*)::int AS n FROM users WHERE login = $1`, [login])).rows[0].n).toBe(0);

    // PATCH /users/:id (a deactivation would also end sessions: those stay too)
    const target = await signedInUser(stack.app, stack.pool, { roles: ['qa_lead'] });
    const before = await userRow(target.id);
    expectServerProblem(
      await request(stack.app).patch(`/users/${target.id}`).set(bearer(admin.token)).send({ printedName: 'Changed Name', active: false }),
    );
    expect(await userRow(target.id)).toEqual(before);
    await request(stack.app).get('/me').set(bearer(target.token)).expect(200);

    // POST /users/:id/password, an administrator's reset
    expectServerProblem(
      await request(stack.app)
        .post(`/users/${target.id}/password`)
        .set(bearer(admin.token))
        .send({ newPassword: 'asters in the autumn 3' }),
    );
    expect(await userRow(target.id)).toEqual(before);
    await request(stack.app).get('/me').set(bearer(target.token)).expect(200);

    // POST /users/:id/password, the person's own change
    const person = await signedInUser(stack.app, stack.pool, {
      roles: ['qa_lead'],
      login: `${REFUSED_PREFIX}self.${randomBytes(4).toString('hex')}`,
    });
    const personBefore = await userRow(person.id);
    expectServerProblem(
      await request(stack.app)
        .post(`/users/${person.id}/password`)
        .set(bearer(person.token))
        .send({ currentPassword: person.password, newPassword: 'roses in the summer 2' }),
    );
    expect(await userRow(person.id)).toEqual(personBefore);

    // POST /users/:id/unlock-signing
    await stack.pool.query(`UPDATE users SET signing_locked_until = now() + interval '10 minutes' WHERE id = $1`, [target.id]);
    const locked = await userRow(target.id);
    expectServerProblem(await request(stack.app).post(`/users/${target.id}/unlock-signing`).set(bearer(admin.token)));
    expect(await userRow(target.id)).toEqual(locked);

    // POST /auth/logout
    expectServerProblem(await request(stack.app).post('/auth/logout').set(bearer(person.token)));
    await request(stack.app).get('/me').set(bearer(person.token)).expect(200);

    // POST /api-keys
    const name = `never issued ${Date.now()}`;
    expectServerProblem(await request(stack.app).post('/api-keys').set(bearer(admin.token)).send({ name }));
    expect((await stack.pool.query(`SELECT count(*)::int AS n FROM api_keys WHERE name = $1`, [name])).rows[0].n).toBe(0);

    // DELETE /api-keys/:id
    const key = await createApiKey(stack.pool, { createdBy: admin.id });
    expectServerProblem(await request(stack.app).delete(`/api-keys/${key.id}`).set(bearer(admin.token)));
    await request(stack.app).get('/me').set('X-API-Key', key.key).expect(200);
    expect((await stack.pool.query(`SELECT revoked_at FROM api_keys WHERE id = $1`, [key.id])).rows[0].revoked_at).toBeNull();

    // The same changes by an actor the trail accepts go through: the refusal was the audit row's.
    const other = await signedInUser(stack.app, stack.pool, { roles: ['admin'] });
    await request(stack.app).patch(`/users/${target.id}`).set(bearer(other.token)).send({ printedName: 'Changed Name' }).expect(200);
  });
});
