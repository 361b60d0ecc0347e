import { cpuUsage } from 'node:process';
import { hashPassword, verifyPassword } from '../../auth/passwords';
import { startStack, type TestStack } from '../helpers/stack';
import { createUser } from '../helpers/users';
import { clientAddress, loginFrom } from './client-address';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(async () => {
  await stack.stop();
});

/** CPU time (user + system, every thread of this process: the hash runs on libuv's pool) spent by `work`, in ms. */
async function cpuMs(work: () => Promise<unknown>): Promise<number> {
  const before = cpuUsage();
  await work();
  const spent = cpuUsage(before);
  return (spent.user + spent.system) / 1000;
}

describe('sign-in throttling', () => {
  it('refuses attempts on a locked login without hashing the password (a hash costs ~180 ms of CPU and 32 MiB)', async () => {
    const user = await createUser(stack.pool, { roles: ['production'] });
    const stored = await hashPassword('a reference passphrase');
    const oneHash = await cpuMs(() => verifyPassword('another passphrase', stored));

    const from = clientAddress();
    for (let i = 0; i < 5; i += 1) await loginFrom(stack.app, from, user.login, `wrong ${i}`).expect(401);
    const elsewhere = clientAddress();
    const throttled = await cpuMs(async () => {
      for (let i = 0; i < 10; i += 1) await loginFrom(stack.app, elsewhere, user.login, `still guessing ${i}`).expect(429);
    });
    // Ten hashes would cost ten times oneHash; ten refusals cost a few database round trips each.
    expect(throttled).toBeLessThan(3 * oneHash);
  });
});
