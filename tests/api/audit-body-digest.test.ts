import { createHash, createHmac } from 'node:crypto';
import canonicalize from 'canonicalize';
import request from 'supertest';
import { compressedPolicy, eventually, startStack, testConfig, type TestStack } from '../helpers/stack';
import { newDeviationRequest } from '../helpers/fixtures';
import { bearer, createUser, loginAs } from '../helpers/users';

/**
 * The audit trail proves what a request body was without letting anyone confirm a guessed
 * password from it: details.bodyHmac is an HMAC keyed by a server secret over the canonical body
 * with its secret-bearing fields removed. After a sign-in, a failed sign-in, a password change and
 * an electronic signature (password given again), no row of the audit trail, the security log,
 * the signature ledger or the outbox, and nothing of the deviation's history, holds a password, its
 * SHA-256, or the plain SHA-256 of a body holding one.
 */
const KEY = 'audit-hmac-key-for-this-test-0123456789abcdef';
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ policy: compressedPolicy(), config: testConfig({ AUDIT_HMAC_KEY: KEY }) });
});
afterAll(async () => {
  await stack.stop();
});

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const canonical = (body: unknown) => canonicalize(body) ?? '';
const hmac = (body: unknown) => createHmac('sha256', KEY).update(canonical(body)).digest('hex');
/** Rows of a table whose text (every column) contains `needle`. */
const rowsHolding = async (table: 'audit_trail' | 'security_log' | 'signature_ledger', needle: string) =>
  Number((await stack.pool.query(`SELECT count(*) FROM ${table} t WHERE strpos(t::text, $1) > 0`, [needle])).rows[0].count);

it('keeps no password, password hash or plain body hash in the audit trail, security log or signature ledger', async () => {
  const lead = await createUser(stack.pool, { roles: ['qa_lead'] });
  const newPassword = `${lead.password}-Renewed-2`;
  const guess = `${lead.password}-wrong-guess`;

  const signIn = { login: lead.login, password: lead.password };
  await request(stack.app).post('/auth/login').send(signIn).expect(200);
  await request(stack.app).post('/auth/login').send({ login: lead.login, password: guess }).expect(401);
  const token = await loginAs(stack.app, lead.login, lead.password);
  const change = { currentPassword: lead.password, newPassword };
  await request(stack.app).post(`/users/${lead.id}/password`).set(bearer(token)).send(change).expect(204);

  // An electronic signature: the containment of a new deviation, verified with the ID and password again.
  const id = (await request(stack.app).post('/deviations').set(bearer(token)).send(newDeviationRequest()).expect(201)).body.id as string;
  const task = await eventually(async () => {
    const inbox = await request(stack.app)
      .get('/tasks')
      .query({ deviation: id, gate: 'containment_verification', scope: 'all' })
      .set(bearer(token))
      .expect(200);
    return inbox.body.items[0] as { id: string } | undefined;
  }, 60_000);
  const signing = { meaning: 'verified', login: lead.login, password: newPassword };
  await request(stack.app).post(`/tasks/${task.id}/sign`).set(bearer(token)).send(signing).expect(201);

  // Each body is in the trail as the HMAC of what it says without its secrets, never as a plain hash.
  const digests = async (path: string) =>
    (
      await stack.pool.query<{ details: Record<string, unknown> }>(`SELECT details FROM audit_trail WHERE entity_id = $1 ORDER BY id`, [
        path,
      ])
    ).rows.map((r) => r.details);
  expect(await digests(`/tasks/${task.id}/sign`)).toEqual([
    expect.objectContaining({ bodyHmac: hmac({ meaning: 'verified', login: lead.login }), status: 201 }),
  ]);
  expect((await digests(`/tasks/${task.id}/sign`))[0]).not.toHaveProperty('bodySha256');
  // (a body of secrets only leaves the digest of an empty object)
  expect(await digests(`/users/${lead.id}/password`)).toEqual([expect.objectContaining({ bodyHmac: hmac({}), status: 204 })]);
  expect((await digests('/auth/login')).map((d) => d.bodyHmac)).toContain(hmac({ login: lead.login }));
  expect(hmac(signIn)).not.toBe(sha256(canonical(signIn)));
  expect(hmac({ login: lead.login })).not.toBe(sha256(canonical({ login: lead.login })));

  const needles = [
    lead.password,
    newPassword,
    guess,
    ...[lead.password, newPassword, guess].map(sha256),
    ...[signIn, { login: lead.login, password: guess }, change, signing].map((body) => sha256(canonical(body))),
  ];
  for (const table of ['audit_trail', 'security_log', 'signature_ledger'] as const) {
    for (const needle of needles) expect({ table, needle, rows: await rowsHolding(table, needle) }).toEqual({ table, needle, rows: 0 });
  }
  // (and the rows searched are there: the failed sign-in and the signature)
  expect(await rowsHolding('security_log', lead.login)).toBeGreaterThan(0);
  expect(await rowsHolding('signature_ledger', lead.login)).toBe(1);

  // Nor the deviation's durable history, which holds the signature the API built after re-authentication.
  // (payloads are base64 in the history: searched decoded)
  const decoded: string[] = [];
  JSON.stringify(await stack.temporal.workflow.getHandle(id).fetchHistory(), (key, value: unknown) => {
    if (key === 'data' && typeof value === 'string') decoded.push(Buffer.from(value, 'base64').toString('utf8'));
    return value;
  });
  const history = decoded.join('\n');
  expect(history).toContain(lead.login);
  for (const needle of needles) expect({ history: needle, found: history.includes(needle) }).toEqual({ history: needle, found: false });
  // Nor the notification outbox, which the worker delivers to people and webhooks.
  const outbox = Number(
    (await stack.pool.query('SELECT count(*) FROM notifications t WHERE strpos(t::text, $1) > 0', [lead.password])).rows[0].count,
  );
  expect(outbox).toBe(0);
});
