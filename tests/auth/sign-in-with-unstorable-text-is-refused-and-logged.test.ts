import request from 'supertest';
import { startStack, type TestStack } from '../helpers/stack';
import { createUser } from '../helpers/users';
import { clientAddress, securityLogWhere } from './client-address';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(async () => {
  await stack.stop();
});

describe('POST /auth/login with text that cannot be stored', () => {
  it('answers 400 problem+json naming the field (never 500), and the refusal is in the security log as a storable copy', async () => {
    const user = await createUser(stack.pool, { roles: ['qa_lead'] });
    const from = clientAddress();
    const bodies: Array<[string, { login: string; password: string }]> = [
      ['login', { login: `${user.login}\u0000`, password: user.password }],
      ['login', { login: `\ud800${user.login}`, password: user.password }],
      ['login', { login: `${user.login}\u001b[2J`, password: user.password }],
      ['password', { login: user.login, password: `${user.password}\u0000` }],
      ['password', { login: user.login, password: `${user.password}\udfff` }],
      ['password', { login: user.login, password: `${user.password}\u0007` }],
      ['password', { login: user.login, password: `${user.password}\t` }],
    ];
    for (const [field, body] of bodies) {
      const res = await request(stack.app).post('/auth/login').agent(from.agent).send(body);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.errors).toEqual([{ path: field, message: expect.stringMatching(/control characters|lone surrogate/) }]);
      expect(JSON.stringify(res.body)).not.toContain(user.password);
    }

    const logged = await securityLogWhere(stack.pool, 'remote_address', from.address);
    expect(logged).toHaveLength(bodies.length);
    expect(logged.every((r) => r.event === 'login_failed' && r.detail.reason === 'invalid_request')).toBe(true);
    expect(logged.map((r) => r.login)).toEqual([
      `${user.login}\ufffd`,
      `\ufffd${user.login}`,
      `${user.login}\ufffd[2J`,
      user.login,
      user.login,
      user.login,
      user.login,
    ]);
    expect(logged.map((r) => r.detail.fields)).toEqual(bodies.map(([field]) => [field]));
    // Refused as malformed, not as a guess: nothing counted, the right password still signs in.
    await request(stack.app).post('/auth/login').agent(from.agent).send({ login: user.login, password: user.password }).expect(200);
  });
});
