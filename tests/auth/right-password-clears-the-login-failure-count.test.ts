import request from 'supertest';
import { startStack, type TestStack } from '../helpers/stack';
import { bearer, createUser } from '../helpers/users';
import { clientAddress, loginFrom } from './client-address';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(async () => {
  await stack.stop();
});

describe('the per-login failure count', () => {
  it('starts again after the right password, at sign-in and at a password change alike', async () => {
    const person = await createUser(stack.pool, { roles: ['qa_lead'] });
    // Separate addresses: this is about the login's count, not the address's (which a success never clears).
    for (let i = 0; i < 4; i += 1) await loginFrom(stack.app, clientAddress(), person.login, `typo ${i}`).expect(401);
    const token = (await loginFrom(stack.app, clientAddress(), person.login, person.password).expect(200)).body.token as string;

    const change = (currentPassword: string, newPassword: string) =>
      request(stack.app)
        .post(`/users/${person.id}/password`)
        .agent(clientAddress().agent)
        .set(bearer(token))
        .send({ newPassword, currentPassword });
    for (let i = 0; i < 4; i += 1) await change(`guess number ${i}`, 'a brand new passphrase 42').expect(403);
    await change(person.password, 'a brand new passphrase 42').expect(204);
    for (let i = 0; i < 4; i += 1) await change(`guess again ${i}`, 'another new passphrase 43').expect(403);
    await change('a brand new passphrase 42', 'another new passphrase 43').expect(204);
    await loginFrom(stack.app, clientAddress(), person.login, 'another new passphrase 43').expect(200);
  });
});
