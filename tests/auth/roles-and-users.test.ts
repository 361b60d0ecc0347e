import request from 'supertest';
import { startStack, type TestStack } from '../helpers/stack';
import { bearer, createApiKey, createUser, loginAs, signedInUser } from '../helpers/users';

let stack: TestStack;
let admin: Awaited<ReturnType<typeof signedInUser>>;
let auditor: Awaited<ReturnType<typeof signedInUser>>;
beforeAll(async () => {
  stack = await startStack({ worker: false });
  admin = await signedInUser(stack.app, stack.pool, { roles: ['admin'] });
  auditor = await signedInUser(stack.app, stack.pool, { roles: ['auditor'] });
});
afterAll(async () => {
  await stack.stop();
});

const newUserBody = (suffix: string) => ({
  login: `new.user.${suffix}`,
  printedName: `New User ${suffix}`,
  email: `new.user.${suffix}@example.com`,
  roles: ['qa_approver'],
  password: 'a long enough passphrase 7',
});

const countUsers = async (login: string) =>
  (await stack.pool.query(`SELECT count(*)::int AS n FROM users WHERE login = $1`, [login])).rows[0].n as number;

describe('users administration', () => {
  it('lets an administrator create a user, who can then sign in; the hash never leaves the server', async () => {
    const body = newUserBody(`${Date.now()}a`);
    const res = await request(stack.app).post('/users').set(bearer(admin.token)).send(body).expect(201);
    expect(res.headers.location).toBe(`/users/${res.body.id}`);
    expect(res.body).toMatchObject({ login: body.login, printedName: body.printedName, roles: ['qa_approver'], active: true });
    expect(res.body).not.toHaveProperty('passwordHash');
    await loginAs(stack.app, body.login, body.password);

    await request(stack.app).post('/users').set(bearer(admin.token)).send(body).expect(409);
  });

  it('refuses a password under the policy, and roles that do not exist, naming each field', async () => {
    const body = { ...newUserBody(`${Date.now()}b`), password: 'short', roles: ['qa_lead', 'wizard', 'integration'] };
    const res = await request(stack.app).post('/users').set(bearer(admin.token)).send(body).expect(400);
    const paths = res.body.errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['password', 'roles.1', 'roles.2']));
    expect(res.body.errors.find((e: { path: string }) => e.path === 'password').message).toMatch(/at least 12/);
    expect(JSON.stringify(res.body)).not.toContain('short"');
    expect(await countUsers(body.login)).toBe(0);
  });

  it('refuses a password that contains the login', async () => {
    const body = { ...newUserBody(`${Date.now()}c`) };
    body.password = `${body.login}-2026!`;
    const res = await request(stack.app).post('/users').set(bearer(admin.token)).send(body).expect(400);
    expect(res.body.errors[0].message).toMatch(/login/);
  });

  it('lets an auditor read users but change nothing (403 and nothing changed)', async () => {
    const list = await request(stack.app).get('/users').set(bearer(auditor.token)).expect(200);
    expect(list.body.items.map((u: { login: string }) => u.login)).toEqual(expect.arrayContaining([admin.login, auditor.login]));

    const body = newUserBody(`${Date.now()}d`);
    const created = await request(stack.app).post('/users').set(bearer(auditor.token)).send(body).expect(403);
    expect(created.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(created.body.detail).toMatch(/admin/);
    expect(await countUsers(body.login)).toBe(0);

    const target = await createUser(stack.pool, { roles: ['production'] });
    await request(stack.app)
      .patch(`/users/${target.id}`)
      .set(bearer(auditor.token))
      .send({ roles: ['admin'] })
      .expect(403);
    await request(stack.app)
      .post(`/users/${target.id}/password`)
      .set(bearer(auditor.token))
      .send({ newPassword: 'another long passphrase 9' })
      .expect(403);
    await request(stack.app).post('/api-keys').set(bearer(auditor.token)).send({ name: 'mine' }).expect(403);
    const { rows } = await stack.pool.query(`SELECT roles FROM users WHERE id = $1`, [target.id]);
    expect(rows[0].roles).toEqual(['production']);
  });

  it('refuses other roles the user list (403) and anonymous callers (401)', async () => {
    const lead = await signedInUser(stack.app, stack.pool, { roles: ['qa_lead', 'qa_head'] });
    await request(stack.app).get('/users').set(bearer(lead.token)).expect(403);
    await request(stack.app).get('/users').expect(401);
  });

  it('lets an administrator change roles (effective on the next request) and deactivate a user (sessions end)', async () => {
    const person = await signedInUser(stack.app, stack.pool, { roles: ['investigator'] });
    await request(stack.app).get('/users').set(bearer(person.token)).expect(403);
    const patched = await request(stack.app)
      .patch(`/users/${person.id}`)
      .set(bearer(admin.token))
      .send({ roles: ['investigator', 'auditor'], printedName: 'Dr. Ines Investigator' })
      .expect(200);
    expect(patched.body).toMatchObject({ roles: ['investigator', 'auditor'], printedName: 'Dr. Ines Investigator' });
    await request(stack.app).get('/users').set(bearer(person.token)).expect(200);

    await request(stack.app).patch(`/users/${person.id}`).set(bearer(admin.token)).send({ active: false }).expect(200);
    await request(stack.app).get('/me').set(bearer(person.token)).expect(401);
    const { rows } = await stack.pool.query(`SELECT count(*)::int AS n FROM sessions WHERE user_id = $1 AND revoked_at IS NULL`, [
      person.id,
    ]);
    expect(rows[0].n).toBe(0);
  });

  it('refuses an empty or unknown change and an unknown user', async () => {
    const person = await createUser(stack.pool, { roles: ['it'] });
    await request(stack.app).patch(`/users/${person.id}`).set(bearer(admin.token)).send({}).expect(400);
    await request(stack.app).patch(`/users/${person.id}`).set(bearer(admin.token)).send({ login: 'renamed' }).expect(400);
    await request(stack.app)
      .patch('/users/00000000-0000-4000-8000-000000000000')
      .set(bearer(admin.token))
      .send({ active: false })
      .expect(404);
    await request(stack.app).patch('/users/not-a-uuid').set(bearer(admin.token)).send({ active: false }).expect(404);
  });
});

describe('passwords', () => {
  it('lets people change their own password with the current one; other sessions end, this one stays', async () => {
    const person = await signedInUser(stack.app, stack.pool, { roles: ['qa_lead'] });
    const otherDevice = await loginAs(stack.app, person.login, person.password);
    const newPassword = 'a brand new passphrase 42';

    await request(stack.app).post(`/users/${person.id}/password`).set(bearer(person.token)).send({ newPassword }).expect(400);
    const wrong = await request(stack.app)
      .post(`/users/${person.id}/password`)
      .set(bearer(person.token))
      .send({ newPassword, currentPassword: 'wrong wrong wrong' })
      .expect(403);
    expect(wrong.body.detail).toMatch(/current password/);
    const { rows } = await stack.pool.query(`SELECT event FROM security_log WHERE user_id = $1`, [person.id]);
    expect(rows).toEqual([{ event: 'password_change_failed' }]);

    await request(stack.app)
      .post(`/users/${person.id}/password`)
      .set(bearer(person.token))
      .send({ newPassword, currentPassword: person.password })
      .expect(204);
    await request(stack.app).get('/me').set(bearer(person.token)).expect(200);
    await request(stack.app).get('/me').set(bearer(otherDevice)).expect(401);
    await request(stack.app).post('/auth/login').send({ login: person.login, password: person.password }).expect(401);
    await loginAs(stack.app, person.login, newPassword);
  });

  it('lets an administrator reset a password: the user is signed out and asked to change it', async () => {
    const person = await signedInUser(stack.app, stack.pool, { roles: ['capa_owner'] });
    await request(stack.app).post(`/users/${person.id}/password`).set(bearer(admin.token)).send({ newPassword: 'short' }).expect(400);
    await request(stack.app)
      .post(`/users/${person.id}/password`)
      .set(bearer(admin.token))
      .send({ newPassword: 'temporary passphrase 0815' })
      .expect(204);
    await request(stack.app).get('/me').set(bearer(person.token)).expect(401);
    const login = await request(stack.app)
      .post('/auth/login')
      .send({ login: person.login, password: 'temporary passphrase 0815' })
      .expect(200);
    expect(login.body.user.passwordMustChange).toBe(true);
  });

  it("refuses someone setting another person's password without being an administrator", async () => {
    const a = await signedInUser(stack.app, stack.pool, { roles: ['qa_head'] });
    const b = await createUser(stack.pool, { roles: ['qa_lead'] });
    await request(stack.app)
      .post(`/users/${b.id}/password`)
      .set(bearer(a.token))
      .send({ newPassword: 'i know better now 123', currentPassword: a.password })
      .expect(403);
  });
});

describe('API keys', () => {
  it('are created by an administrator, shown once, authenticate a machine client, and stop working when revoked', async () => {
    const created = await request(stack.app).post('/api-keys').set(bearer(admin.token)).send({ name: 'line 3 L3 system' }).expect(201);
    expect(created.body.key).toMatch(/^gxpk_/);
    expect(created.body.roles).toEqual(['integration']);
    const { rows } = await stack.pool.query(`SELECT key_hash FROM api_keys WHERE id = $1`, [created.body.id]);
    expect(rows[0].key_hash).toMatch(/^[0-9a-f]{64}$/);

    const listed = await request(stack.app).get('/api-keys').set(bearer(auditor.token)).expect(200);
    const mine = listed.body.items.find((k: { id: string }) => k.id === created.body.id);
    expect(mine).toMatchObject({ name: 'line 3 L3 system', keyPrefix: created.body.key.slice(0, 11) });
    expect(mine).not.toHaveProperty('key');

    const me = await request(stack.app).get('/me').set('X-API-Key', created.body.key).expect(200);
    expect(me.body).toMatchObject({ id: created.body.id, kind: 'api_key', roles: ['integration'], login: 'api-key:line 3 L3 system' });
    // A machine client holds no admin or reader role here.
    await request(stack.app).get('/users').set('X-API-Key', created.body.key).expect(403);

    await request(stack.app).delete(`/api-keys/${created.body.id}`).set(bearer(auditor.token)).expect(403);
    await request(stack.app).delete(`/api-keys/${created.body.id}`).set(bearer(admin.token)).expect(204);
    await request(stack.app).delete(`/api-keys/${created.body.id}`).set(bearer(admin.token)).expect(404);
    await request(stack.app).get('/me').set('X-API-Key', created.body.key).expect(401);
  });

  it('refuses roles a key may not hold, and a key cannot mint keys', async () => {
    const refused = await request(stack.app)
      .post('/api-keys')
      .set(bearer(admin.token))
      .send({ name: 'too strong', roles: ['admin'] })
      .expect(400);
    expect(refused.body.errors[0].path).toBe('roles.0');
    const key = await createApiKey(stack.pool, { roles: ['integration'] });
    await request(stack.app).post('/api-keys').set('X-API-Key', key.key).send({ name: 'child' }).expect(403);
    await request(stack.app).get('/me').set('X-API-Key', 'gxpk_guessed').expect(401);
  });
});
