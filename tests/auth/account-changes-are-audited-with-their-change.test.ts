import { createHash } from 'node:crypto';
import request from 'supertest';
import { startStack, type TestStack } from '../helpers/stack';
import { bearer, loginAs, signedInUser } from '../helpers/users';

let stack: TestStack;
let admin: Awaited<ReturnType<typeof signedInUser>>;
beforeAll(async () => {
  stack = await startStack({ worker: false });
  admin = await signedInUser(stack.app, stack.pool, { roles: ['admin'] });
});
afterAll(async () => {
  await stack.stop();
});

interface AuditRow {
  actor: string;
  action: string;
  entityType: string;
  entityId: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  details: Record<string, unknown>;
}

async function auditRows(action: string, entityId: string): Promise<AuditRow[]> {
  const { rows } = await stack.pool.query<AuditRow>(
    `SELECT actor, action, entity_type AS "entityType", entity_id AS "entityId", before, after, details
       FROM audit_trail WHERE action = $1 AND entity_id = $2 ORDER BY id`,
    [action, entityId],
  );
  return rows;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** No secret, nor a plain hash of one, in any audit row about these entities. */
async function expectNoSecrets(entityIds: string[], secrets: string[]): Promise<void> {
  const { rows } = await stack.pool.query<{ row: string }>(
    `SELECT row_to_json(a)::text AS row FROM audit_trail a WHERE entity_id = ANY ($1)`,
    [entityIds],
  );
  expect(rows.length).toBeGreaterThan(0);
  for (const { row } of rows) {
    expect(row).not.toMatch(/scrypt\$|password_?hash|key_?hash|token_?hash/i);
    for (const secret of secrets) {
      expect(row).not.toContain(secret);
      expect(row).not.toContain(sha256(secret));
    }
  }
}

describe('account changes', () => {
  it('each commit with an audit row describing them, without secrets', async () => {
    // POST /users
    const body = {
      login: `audited.${Date.now()}`,
      printedName: 'Audited Person',
      email: 'audited@example.com',
      roles: ['qa_lead'],
      password: 'tulips in the spring 1',
    };
    const created = await request(stack.app).post('/users').set(bearer(admin.token)).send(body).expect(201);
    const userId = created.body.id as string;
    expect(await auditRows('user.created', userId)).toEqual([
      expect.objectContaining({
        actor: admin.login,
        entityType: 'user',
        before: null,
        after: expect.objectContaining({ id: userId, login: body.login, printedName: 'Audited Person', roles: ['qa_lead'] }),
      }),
    ]);

    // PATCH /users/:id
    await request(stack.app)
      .patch(`/users/${userId}`)
      .set(bearer(admin.token))
      .send({ printedName: 'Audited P. Person', roles: ['qa_lead', 'auditor'] })
      .expect(200);
    expect(await auditRows('user.updated', userId)).toEqual([
      expect.objectContaining({
        actor: admin.login,
        before: expect.objectContaining({ printedName: 'Audited Person', roles: ['qa_lead'] }),
        after: expect.objectContaining({ printedName: 'Audited P. Person', roles: ['qa_lead', 'auditor'] }),
        details: expect.objectContaining({ changed: ['printedName', 'roles'] }),
      }),
    ]);

    // POST /users/:id/password, the person's own change, then an administrator's reset.
    const token = await loginAs(stack.app, body.login, body.password);
    const ownPassword = 'roses in the summer 2';
    await request(stack.app)
      .post(`/users/${userId}/password`)
      .set(bearer(token))
      .send({ currentPassword: body.password, newPassword: ownPassword })
      .expect(204);
    const resetPassword = 'asters in the autumn 3';
    await request(stack.app).post(`/users/${userId}/password`).set(bearer(admin.token)).send({ newPassword: resetPassword }).expect(204);
    expect(await auditRows('user.password_changed', userId)).toEqual([
      expect.objectContaining({
        actor: body.login,
        after: expect.objectContaining({ passwordMustChange: false }),
        details: expect.objectContaining({ how: 'self' }),
      }),
      expect.objectContaining({
        actor: admin.login,
        after: expect.objectContaining({ passwordMustChange: true }),
        details: { how: 'admin_reset', sessionsEnded: 1 },
      }),
    ]);

    // POST /users/:id/unlock-signing
    await stack.pool.query(`UPDATE users SET signing_locked_until = now() + interval '10 minutes' WHERE id = $1`, [userId]);
    await request(stack.app).post(`/users/${userId}/unlock-signing`).set(bearer(admin.token)).expect(204);
    const [unlocked] = await auditRows('user.signing_unlocked', userId);
    expect(unlocked).toMatchObject({ actor: admin.login, after: { signingLockedUntil: null } });
    expect(unlocked!.before!.signingLockedUntil).toEqual(expect.any(String));

    // POST /auth/logout
    const leaving = await signedInUser(stack.app, stack.pool, { roles: ['it'] });
    const { rows: sessions } = await stack.pool.query<{ id: string }>(`SELECT id::text FROM sessions WHERE user_id = $1`, [leaving.id]);
    await request(stack.app).post('/auth/logout').set(bearer(leaving.token)).expect(204);
    expect(await auditRows('session.revoked', sessions[0]!.id)).toEqual([
      expect.objectContaining({ actor: leaving.login, entityType: 'session' }),
    ]);

    // POST /api-keys and DELETE /api-keys/:id
    const key = await request(stack.app).post('/api-keys').set(bearer(admin.token)).send({ name: 'audited line system' }).expect(201);
    expect(await auditRows('api_key.created', key.body.id)).toEqual([
      expect.objectContaining({
        actor: admin.login,
        entityType: 'api_key',
        after: expect.objectContaining({ id: key.body.id, name: 'audited line system', roles: ['integration'], revokedAt: null }),
      }),
    ]);
    await request(stack.app).delete(`/api-keys/${key.body.id}`).set(bearer(admin.token)).expect(204);
    expect(await auditRows('api_key.revoked', key.body.id)).toEqual([
      expect.objectContaining({
        actor: admin.login,
        before: { revokedAt: null },
        after: expect.objectContaining({ revokedAt: expect.any(String), name: 'audited line system' }),
      }),
    ]);

    await expectNoSecrets(
      [userId, sessions[0]!.id, key.body.id],
      [body.password, ownPassword, resetPassword, token, leaving.token, key.body.key],
    );
  });
});
