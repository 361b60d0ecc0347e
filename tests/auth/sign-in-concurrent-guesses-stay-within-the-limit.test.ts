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

describe('sign-in throttling under concurrency', () => {
  it('checks at most 5 passwords for a login however many attempts arrive at once', async () => {
    const user = await createUser(stack.pool, { roles: ['capa_owner'] });
    const from = clientAddress();
    const answers = await Promise.all(Array.from({ length: 25 }, (_, i) => loginFrom(stack.app, from, user.login, `parallel guess ${i}`)));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(20);

    const logged = await securityLogWhere(stack.pool, 'login', user.login);
    expect(logged.filter((r) => r.event === 'login_failed')).toHaveLength(5);
    expect(logged.filter((r) => r.event === 'login_locked' && r.detail.scope === 'login')).toHaveLength(1);
    await loginFrom(stack.app, clientAddress(), user.login, user.password).expect(429);
  });
});
