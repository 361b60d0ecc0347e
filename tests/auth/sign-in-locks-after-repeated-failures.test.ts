import { startStack, type TestStack } from '../helpers/stack';
import { createUser } from '../helpers/users';
import { clientAddress, loginFrom, securityLogWhere } from './client-address';

/** Production defaults: 5 failures lock a login, 20 an address, each for 15 minutes (21 CFR 11.300(d)). */
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(async () => {
  await stack.stop();
});

describe('sign-in lockout', () => {
  it('refuses the right password after 70 wrong ones, logs the lockout, and keeps the address limited for other logins', async () => {
    const victim = await createUser(stack.pool, { roles: ['qa_lead'] });
    const bystander = await createUser(stack.pool, { roles: ['qa_lead'] });
    const attacker = clientAddress();

    const statuses: number[] = [];
    for (let i = 0; i < 70; i += 1) statuses.push((await loginFrom(stack.app, attacker, victim.login, `wrong guess number ${i}`)).status);
    expect(statuses.slice(0, 5)).toEqual(Array(5).fill(401));
    expect(statuses.slice(5)).toEqual(Array(65).fill(429));

    const right = await loginFrom(stack.app, attacker, victim.login, victim.password).expect(429);
    expect(right.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(right.body).toEqual({
      type: 'about:blank',
      title: 'Too Many Requests',
      status: 429,
      detail: expect.stringMatching(/try again later/i),
    });
    expect(right.body).not.toHaveProperty('token');
    const retryAfter = Number(right.headers['retry-after']);
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(15 * 60);

    // The login is locked wherever the attempt comes from.
    await loginFrom(stack.app, clientAddress(), victim.login, victim.password).expect(429);
    // The address is locked for every login: the bystander's right password is refused from it, not from elsewhere.
    await loginFrom(stack.app, attacker, bystander.login, bystander.password).expect(429);
    await loginFrom(stack.app, clientAddress(), bystander.login, bystander.password).expect(200);

    const logged = await securityLogWhere(stack.pool, 'login', victim.login);
    const failures = logged.filter((r) => r.event === 'login_failed');
    expect(failures).toHaveLength(5);
    expect(
      failures.every((r) => r.userId === victim.id && r.detail.reason === 'wrong_password' && r.remoteAddress === attacker.address),
    ).toBe(true);
    const locks = logged.filter((r) => r.event === 'login_locked');
    expect(locks).toEqual([
      expect.objectContaining({
        userId: victim.id,
        remoteAddress: attacker.address,
        detail: expect.objectContaining({ scope: 'login', via: 'sign_in', failures: 5 }),
      }),
      expect.objectContaining({
        remoteAddress: attacker.address,
        detail: expect.objectContaining({ scope: 'address', via: 'sign_in', failures: 20 }),
      }),
    ]);
    // Every refused attempt is on record: 65 wrong, the right one, and the right one from elsewhere.
    expect(logged.filter((r) => r.event === 'login_throttled')).toHaveLength(67);
    const bystanderRefused = await securityLogWhere(stack.pool, 'login', bystander.login);
    expect(bystanderRefused).toEqual([
      expect.objectContaining({
        event: 'login_throttled',
        remoteAddress: attacker.address,
        detail: expect.objectContaining({ scope: 'address' }),
      }),
    ]);
    // No password, right or wrong, is anywhere in the log.
    const { rows } = await stack.pool.query(
      `SELECT count(*)::int AS n FROM security_log WHERE detail::text LIKE '%wrong guess%' OR detail::text LIKE $1`,
      [`%${victim.password}%`],
    );
    expect(rows[0].n).toBe(0);
  });
});
