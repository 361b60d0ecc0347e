import { startStack, type TestStack } from '../helpers/stack';
import { createUser } from '../helpers/users';
import { clientAddress, loginFrom, securityLogWhere } from './client-address';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(async () => {
  await stack.stop();
});

describe('sign-in lockout', () => {
  it('locks a login that names nobody exactly as a real one, so the answers tell nothing about who exists', async () => {
    const real = await createUser(stack.pool, { roles: ['investigator'] });
    const nobody = `nobody-${real.login}`;
    for (const login of [real.login, nobody]) {
      const from = clientAddress();
      for (let i = 0; i < 5; i += 1) await loginFrom(stack.app, from, login, `not the password ${i}`).expect(401);
    }
    const fromElsewhere = clientAddress();
    const realAnswer = await loginFrom(stack.app, fromElsewhere, real.login, real.password).expect(429);
    const nobodyAnswer = await loginFrom(stack.app, fromElsewhere, nobody, real.password).expect(429);
    expect(nobodyAnswer.body).toEqual(realAnswer.body);
    expect(Math.abs(Number(nobodyAnswer.headers['retry-after']) - Number(realAnswer.headers['retry-after']))).toBeLessThanOrEqual(60);

    // The log, which only reviewers read, does know the difference.
    const locked = (await securityLogWhere(stack.pool, 'login', nobody)).filter((r) => r.event === 'login_locked');
    expect(locked).toEqual([expect.objectContaining({ userId: null, detail: expect.objectContaining({ scope: 'login', failures: 5 }) })]);
  });
});
