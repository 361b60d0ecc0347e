import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { Pool } from 'pg';
import { appendAudit, verifyAuditTrail } from '../../audit/trail';
import { newDeviationRequest } from '../helpers/fixtures';
import { startStack, type TestStack } from '../helpers/stack';
import { bearer, signedInUser } from '../helpers/users';

let stack: TestStack;
let qaLead: Awaited<ReturnType<typeof signedInUser>>;
let auditor: Awaited<ReturnType<typeof signedInUser>>;
beforeAll(async () => {
  stack = await startStack({ worker: false });
  qaLead = await signedInUser(stack.app, stack.pool, { roles: ['qa_lead'] });
  auditor = await signedInUser(stack.app, stack.pool, { roles: ['auditor'] });
});
const asAuditor = () => bearer(auditor.token);
afterAll(async () => {
  await stack.stop();
});

describe('appendAudit / verifyAuditTrail', () => {
  it('chains concurrent appends without forking, and the chain verifies', async () => {
    const tag = randomUUID();
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        appendAudit(stack.pool, {
          actor: 'worker',
          action: 'hold.placed',
          entityType: 'hold',
          entityId: `${tag}-${i}`,
          deviationId: `X-${tag}`,
          after: { lot: `L${i}` },
        }),
      ),
    );
    const { rows } = await stack.pool.query<{ prev_hash: string; hash: string }>(
      'SELECT prev_hash, hash FROM audit_trail WHERE deviation_id = $1',
      [`X-${tag}`],
    );
    expect(rows).toHaveLength(20);
    expect((await verifyAuditTrail(stack.pool)).ok).toBe(true);
  });

  it('the database refuses UPDATE, DELETE and TRUNCATE', async () => {
    const row = await appendAudit(stack.pool, { actor: 'qa.lead', action: 'test', entityType: 'test', entityId: 'x', reason: 'why' });
    await expect(stack.pool.query('UPDATE audit_trail SET actor = $1 WHERE id = $2', ['mallory', row.id])).rejects.toThrow(/append-only/);
    await expect(stack.pool.query('DELETE FROM audit_trail WHERE id = $1', [row.id])).rejects.toThrow(/append-only/);
    await expect(stack.pool.query('TRUNCATE audit_trail')).rejects.toThrow(/append-only/);
  });

  it('detects an altered row and a removed row (triggers bypassed, in a scratch copy of the table)', async () => {
    // Tampering is simulated in a schema of its own so the suite's real trail stays intact.
    const schema = `tamper_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    await stack.pool.query(
      `CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.audit_trail (LIKE public.audit_trail INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)`,
    );
    const scratch = new Pool({ connectionString: process.env.DATABASE_URL, max: 2, options: `-c search_path=${schema},public` });
    try {
      for (let i = 0; i < 5; i++)
        await appendAudit(scratch, {
          actor: 'qa.lead',
          action: 'step',
          entityType: 'deviation',
          entityId: 'DEV-2026-000001',
          after: { n: i },
        });
      expect(await verifyAuditTrail(scratch)).toMatchObject({ ok: true, rows: 5 });

      await scratch.query(`UPDATE audit_trail SET after = '{"n": 99}' WHERE id = (SELECT min(id) + 2 FROM audit_trail)`);
      const altered = await verifyAuditTrail(scratch);
      expect(altered.ok).toBe(false);
      expect(altered.firstProblem?.problem).toMatch(/altered/);

      await scratch.query(`DELETE FROM audit_trail WHERE id = (SELECT min(id) + 2 FROM audit_trail)`);
      const removed = await verifyAuditTrail(scratch);
      expect(removed.ok).toBe(false);
      expect(removed.firstProblem?.problem).toMatch(/removed/);
    } finally {
      await scratch.end();
      await stack.pool.query(`DROP SCHEMA ${schema} CASCADE`);
    }
  });
});

describe('audit middleware and GET /audit', () => {
  it('appends one row per successful change, none for a refused one or a read', async () => {
    const created = await request(stack.app).post('/deviations').set(bearer(qaLead.token)).send(newDeviationRequest()).expect(201);
    const id = created.body.id as string;
    await request(stack.app).get(`/deviations?batch=none`).set(bearer(qaLead.token)).expect(200);
    await request(stack.app).post('/deviations').set(bearer(qaLead.token)).send({ title: 'x' }).expect(400);
    await request(stack.app).post('/deviations').send(newDeviationRequest()).expect(401);

    const res = await request(stack.app).get('/audit').set(asAuditor()).query({ deviation: id }).expect(200);
    // Besides the request's own row, the hold the API placed as it opened the deviation.
    expect(res.body.items.map((i: { action: string }) => i.action).sort()).toEqual(['POST /deviations', 'hold.placed']);
    res.body.items = res.body.items.filter((i: { entityType: string }) => i.entityType === 'api_call');
    expect(res.body.items[0]).toMatchObject({
      actor: qaLead.login,
      action: 'POST /deviations',
      entityType: 'api_call',
      deviationId: id,
      details: { method: 'POST', path: '/deviations', status: 201, location: `/deviations/${id}` },
    });
    expect(res.body.items[0].details.bodyHmac).toMatch(/^[0-9a-f]{64}$/);
  });

  it('pages with a cursor, filters by actor and time, and refuses bad filters', async () => {
    const actor = `pager-${randomUUID()}`;
    const before = new Date().toISOString();
    for (let i = 0; i < 5; i++) await appendAudit(stack.pool, { actor, action: `a${i}`, entityType: 't', entityId: String(i) });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: request.Response = await request(stack.app)
        .get('/audit')
        .set(asAuditor())
        .query({ actor, limit: 2, ...(cursor ? { cursor } : {}) })
        .expect(200);
      seen.push(...page.body.items.map((r: { action: string }) => r.action));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(['a0', 'a1', 'a2', 'a3', 'a4']);

    const none = await request(stack.app).get('/audit').set(asAuditor()).query({ actor, to: before }).expect(200);
    expect(none.body.items).toEqual([]);

    const bad = await request(stack.app).get('/audit').set(asAuditor()).query({ from: 'yesterday', limit: 0 }).expect(400);
    expect(bad.headers['content-type']).toMatch(/problem\+json/);
    expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['from', 'limit']);
    await request(stack.app).get('/audit').set(asAuditor()).query({ cursor: 'not!a!cursor' }).expect(400);
  });

  it('exports CSV by Accept header or ?format=csv, and verifies the chain', async () => {
    const actor = `csv-${randomUUID()}`;
    await appendAudit(stack.pool, {
      actor,
      action: 'hold.released',
      entityType: 'hold',
      entityId: 'L1',
      reason: 'released, "as agreed"',
      before: { disposition: null },
      after: { disposition: 'release' },
    });
    const byHeader = await request(stack.app).get('/audit').set(asAuditor()).query({ actor }).set('Accept', 'text/csv').expect(200);
    expect(byHeader.headers['content-type']).toMatch(/^text\/csv/);
    const lines = byHeader.text.trim().split('\r\n');
    expect(lines[0]).toBe('id,at,actor,action,entity_type,entity_id,deviation_id,reason,before,after,details,prev_hash,hash');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('"released, ""as agreed"""');
    const byQuery = await request(stack.app).get('/audit').set(asAuditor()).query({ actor, format: 'csv' }).expect(200);
    expect(byQuery.text).toBe(byHeader.text);

    const verified = await request(stack.app).get('/audit/verify').set(asAuditor()).expect(200);
    expect(verified.body).toMatchObject({ ok: true });
    expect(verified.body.rows).toBeGreaterThan(0);
  });

  it('is for auditors, QA heads and administrators only', async () => {
    await request(stack.app).get('/audit').expect(401);
    await request(stack.app).get('/audit/verify').set(bearer(qaLead.token)).expect(403);
  });
});
