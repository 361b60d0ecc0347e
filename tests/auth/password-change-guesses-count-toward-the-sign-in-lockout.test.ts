import request from 'supertest';
import { startStack, type TestStack } from '../helpers/stack';
import { bearer, createUser } from '../helpers/users';
import { clientAddress, loginFrom, securityLogWhere } from './client-address';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(async () => {
  await stack.stop();
});

const passwordHash = async (id: string) =>
  (await stack.pool.query(`SELECT password_hash FROM users WHERE id = $1`, [id])).rows[0].password_hash as string;

describe('current-password checks at a password change', () => {
  it("count toward the login's sign-in limit: after 5 wrong guesses the route and sign-in are both locked", async () => {
    const person = await createUser(stack.pool, { roles: ['qa_lead'] });
    const from = clientAddress();
    const token = (await loginFrom(stack.app, from, person.login, person.password).expect(200)).body.token as string;
    const hashBefore = await passwordHash(person.id);
    const change = (currentPassword: string) =>
      request(stack.app)
        .post(`/users/${person.id}/password`)
        .agent(from.agent)
        .set(bearer(token))
        .send({ newPassword: 'a brand new passphrase 42', currentPassword });

    for (let i = 0; i < 5; i += 1) await change(`guess number ${i}`).expect(403);
    const right = await change(person.password).expect(429);
    expect(right.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(Number(right.headers['retry-after'])).toBeGreaterThan(0);
    // Guessing goes on being refused, without a check.
    for (let i = 0; i < 20; i += 1) await change(`more guesses ${i}`).expect(429);
    // The same lock holds at sign-in, from anywhere.
    await loginFrom(stack.app, clientAddress(), person.login, person.password).expect(429);
    expect(await passwordHash(person.id)).toBe(hashBefore);

    const logged = await securityLogWhere(stack.pool, 'login', person.login);
    expect(logged.filter((r) => r.event === 'password_change_failed')).toHaveLength(5);
    // The login locked after 5 failures; the address after 20 (5 failures and 15 refused guesses).
    expect(logged.filter((r) => r.event === 'login_locked')).toEqual([
      expect.objectContaining({
        userId: person.id,
        detail: expect.objectContaining({ scope: 'login', via: 'password_change', failures: 5 }),
      }),
      expect.objectContaining({
        remoteAddress: from.address,
        detail: expect.objectContaining({ scope: 'address', via: 'password_change', failures: 20 }),
      }),
    ]);
    expect(logged.filter((r) => r.event === 'login_throttled')).toHaveLength(22);
  });
});
