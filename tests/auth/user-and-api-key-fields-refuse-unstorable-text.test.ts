import request from 'supertest';
import { startStack, type TestStack } from '../helpers/stack';
import { bearer, createUser, signedInUser } from '../helpers/users';

let stack: TestStack;
let admin: Awaited<ReturnType<typeof signedInUser>>;
beforeAll(async () => {
  stack = await startStack({ worker: false });
  admin = await signedInUser(stack.app, stack.pool, { roles: ['admin'] });
});
afterAll(async () => {
  await stack.stop();
});

const UNSTORABLE = ['\u0000', '\u0001', '\u007f', '\n', '\ud800', '\udc00'];

function expectRefused(res: request.Response, path: string): void {
  expect(res.status).toBe(400);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body.errors).toEqual(expect.arrayContaining([{ path, message: expect.stringMatching(/control characters|lone surrogate/) }]));
}

describe('user and API key fields', () => {
  it('refuse control characters and lone surrogates with 400 naming the field, and store nothing', async () => {
    const person = await createUser(stack.pool, { roles: ['it'] });
    for (const bad of UNSTORABLE) {
      const body = {
        login: `new.person.${Date.now()}`,
        printedName: 'New Person',
        email: 'new.person@example.com',
        roles: ['qa_lead'],
        password: 'a long enough passphrase 7',
      };
      for (const field of ['login', 'printedName', 'email', 'password'] as const) {
        const res = await request(stack.app)
          .post('/users')
          .set(bearer(admin.token))
          .send({ ...body, [field]: `${body[field]}${bad}` });
        expectRefused(res, field);
      }
      expect((await stack.pool.query(`SELECT count(*)::int AS n FROM users WHERE printed_name LIKE 'New Person%'`)).rows[0].n).toBe(0);

      expectRefused(
        await request(stack.app)
          .patch(`/users/${person.id}`)
          .set(bearer(admin.token))
          .send({ printedName: `Renamed${bad}` }),
        'printedName',
      );
      expectRefused(
        await request(stack.app)
          .patch(`/users/${person.id}`)
          .set(bearer(admin.token))
          .send({ email: `x${bad}@example.com` }),
        'email',
      );
      expectRefused(
        await request(stack.app)
          .post(`/users/${person.id}/password`)
          .set(bearer(admin.token))
          .send({ newPassword: `another passphrase 9${bad}` }),
        'newPassword',
      );
      expectRefused(
        await request(stack.app)
          .post('/api-keys')
          .set(bearer(admin.token))
          .send({ name: `line 4${bad}` }),
        'name',
      );
    }
    const { rows } = await stack.pool.query(
      `SELECT printed_name, email, password_changed_at = created_at AS untouched FROM users WHERE id = $1`,
      [person.id],
    );
    expect(rows[0]).toEqual({ printed_name: person.printedName, email: person.email, untouched: true });
    expect((await stack.pool.query(`SELECT count(*)::int AS n FROM api_keys WHERE name LIKE 'line 4%'`)).rows[0].n).toBe(0);
  });
});
