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

describe('sign-in throttling per address', () => {
  it('locks an address after 20 failures spread over logins none of which reached its own limit', async () => {
    const targets = await Promise.all(Array.from({ length: 5 }, () => createUser(stack.pool, { roles: ['qa_approver'] })));
    const honest = await createUser(stack.pool, { roles: ['qa_approver'] });
    const sprayer = clientAddress();
    for (const target of targets) {
      for (let i = 0; i < 4; i += 1) await loginFrom(stack.app, sprayer, target.login, `spray ${i}`).expect(401);
    }
    // The twenty-first attempt from the address is refused before any password check, even a right one.
    await loginFrom(stack.app, sprayer, honest.login, honest.password).expect(429);
    await loginFrom(stack.app, sprayer, targets[0]!.login, targets[0]!.password).expect(429);
    // Signing in to one's own account from there does not clear the address either.
    await loginFrom(stack.app, sprayer, honest.login, honest.password).expect(429);
    // Each login is still open from elsewhere: only four failures each.
    await loginFrom(stack.app, clientAddress(), targets[0]!.login, targets[0]!.password).expect(200);
    await loginFrom(stack.app, clientAddress(), honest.login, honest.password).expect(200);

    const logged = await securityLogWhere(stack.pool, 'remote_address', sprayer.address);
    expect(logged.filter((r) => r.event === 'login_failed')).toHaveLength(20);
    expect(logged.filter((r) => r.event === 'login_locked')).toEqual([
      expect.objectContaining({ login: targets[4]!.login, detail: expect.objectContaining({ scope: 'address', failures: 20 }) }),
    ]);
    expect(logged.filter((r) => r.event === 'login_throttled')).toHaveLength(3);
  });
});
