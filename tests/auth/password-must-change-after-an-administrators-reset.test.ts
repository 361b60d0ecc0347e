import request from 'supertest';
import { startStack, type TestStack } from '../helpers/stack';
import { bearer, createUser, loginAs, signedInUser } from '../helpers/users';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(async () => {
  await stack.stop();
});

const TEMPORARY = 'temporary passphrase 0815';

describe('a password reset by an administrator', () => {
  it('must be changed before the session may do anything but change it, sign out or read GET /me', async () => {
    const admin = await signedInUser(stack.app, stack.pool, { roles: ['admin'] });
    // An administrator too, to show that no role is exempt.
    const person = await createUser(stack.pool, { roles: ['qa_lead', 'admin'] });
    const other = await createUser(stack.pool, { roles: ['it'] });
    await request(stack.app).post(`/users/${person.id}/password`).set(bearer(admin.token)).send({ newPassword: TEMPORARY }).expect(204);

    const token = await loginAs(stack.app, person.login, TEMPORARY);
    const me = await request(stack.app).get('/me').set(bearer(token)).expect(200);
    expect(me.body).toMatchObject({ id: person.id, passwordMustChange: true });

    const refusals = [
      request(stack.app).get('/deviations').set(bearer(token)),
      request(stack.app).get('/users').set(bearer(token)),
      request(stack.app).get('/tasks').set(bearer(token)),
      request(stack.app).post('/api-keys').set(bearer(token)).send({ name: 'not now' }),
      request(stack.app).post(`/users/${other.id}/password`).set(bearer(token)).send({ newPassword: 'someone elses passphrase 9' }),
      request(stack.app).patch(`/users/${other.id}`).set(bearer(token)).send({ active: false }),
    ];
    for (const refused of await Promise.all(refusals)) {
      expect(refused.status).toBe(403);
      expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(refused.body.detail).toMatch(/change it first/);
    }
    expect((await stack.pool.query(`SELECT active FROM users WHERE id = $1`, [other.id])).rows[0].active).toBe(true);

    // A second session of the same person may sign out.
    const second = await loginAs(stack.app, person.login, TEMPORARY);
    await request(stack.app).post('/auth/logout').set(bearer(second)).expect(204);

    await request(stack.app)
      .post(`/users/${person.id}/password`)
      .set(bearer(token))
      .send({ newPassword: 'my very own passphrase 77', currentPassword: TEMPORARY })
      .expect(204);
    const after = await request(stack.app).get('/me').set(bearer(token)).expect(200);
    expect(after.body.passwordMustChange).toBe(false);
    await request(stack.app).get('/deviations').set(bearer(token)).expect(200);
    await request(stack.app).get('/users').set(bearer(token)).expect(200);
  });
});
