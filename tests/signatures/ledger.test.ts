import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { PoolClient } from '../../db/pool';
import { appendSignature, canonicalRecordHash, ledgerRowHash, verifyLedger, SignatureConflictError } from '../../signatures';
import { GENESIS_HASH } from '../../db/hash-chain';
import { startStack, type TestStack } from '../helpers/stack';
import { bearer, createUser, signedInUser, type TestUser } from '../helpers/users';

let stack: TestStack;
let signer: TestUser;
beforeAll(async () => {
  stack = await startStack({ worker: false });
  signer = await createUser(stack.pool, { roles: ['qa_approver'], printedName: 'Ana Approver' });
});
afterAll(async () => {
  await stack.stop();
});

const entry = (overrides: Record<string, unknown> = {}) => ({
  taskId: `task-${randomUUID()}`,
  deviationId: 'DEV-1999-000042',
  signerId: signer.id,
  login: signer.login,
  printedName: signer.printedName,
  meaning: 'approved' as const,
  signedAt: new Date('2026-11-23T10:15:30.123Z'),
  recordHash: canonicalRecordHash({ report: 'investigation', rootCause: 'printer buffer replay', version: 3 }),
  comment: 'Root cause confirmed.',
  ...overrides,
});

describe('canonicalRecordHash', () => {
  it('hashes the canonical JSON: key order does not matter, content does', () => {
    const a = canonicalRecordHash({ b: 1, a: { y: [1, 2], x: 'é' } });
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(canonicalRecordHash({ a: { x: 'é', y: [1, 2] }, b: 1 })).toBe(a);
    expect(canonicalRecordHash({ a: { x: 'é', y: [2, 1] }, b: 1 })).not.toBe(a);
    expect(canonicalRecordHash({ at: new Date('2026-01-01T00:00:00Z') })).toBe(canonicalRecordHash({ at: '2026-01-01T00:00:00.000Z' }));
    expect(() => canonicalRecordHash(undefined)).toThrow(TypeError);
    expect(() => canonicalRecordHash({ n: Number.NaN })).toThrow();
  });
});

describe('appendSignature', () => {
  it('stores the manifestation and links the row to the one before it', async () => {
    const first = await appendSignature(stack.pool, entry());
    const second = await appendSignature(stack.pool, entry({ meaning: 'reviewed', comment: null }));
    expect(first).toMatchObject({
      deviationId: 'DEV-1999-000042',
      signerId: signer.id,
      login: signer.login,
      printedName: 'Ana Approver',
      meaning: 'approved',
      comment: 'Root cause confirmed.',
    });
    expect(first.signedAt.toISOString()).toBe('2026-11-23T10:15:30.123Z');
    expect(first.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(second.id).toBeGreaterThan(first.id);
    // Other test files append too; the link from ours to its predecessor is what we can check here.
    const { rows } = await stack.pool.query(`SELECT hash FROM signature_ledger WHERE id < $1 ORDER BY id DESC LIMIT 1`, [second.id]);
    expect(second.prevHash).toBe(rows[0]?.hash ?? GENESIS_HASH);
    expect((await verifyLedger(stack.pool)).ok).toBe(true);
  });

  it('appends once when retried with the same task, signer and meaning, and refuses a different record', async () => {
    const e = entry();
    const [a, b] = await Promise.all([appendSignature(stack.pool, e), appendSignature(stack.pool, e)]);
    const c = await appendSignature(stack.pool, e);
    expect(b.id).toBe(a.id);
    expect(c).toEqual(a);
    const { rows } = await stack.pool.query(`SELECT count(*)::int AS n FROM signature_ledger WHERE task_id = $1`, [e.taskId]);
    expect(rows[0].n).toBe(1);
    await expect(appendSignature(stack.pool, { ...e, recordHash: canonicalRecordHash({ other: true }) })).rejects.toBeInstanceOf(
      SignatureConflictError,
    );
  });

  it('refuses a malformed entry before touching the database', async () => {
    await expect(appendSignature(stack.pool, entry({ meaning: 'liked' }))).rejects.toThrow(/meaning/);
    await expect(appendSignature(stack.pool, entry({ recordHash: 'abc' }))).rejects.toThrow(/recordHash/);
  });

  it('never forks the chain under concurrent appends', async () => {
    const others = await Promise.all([1, 2, 3].map(() => createUser(stack.pool, { roles: ['qa_approver'] })));
    const entries = Array.from({ length: 24 }, (_, i) => {
      const who = others[i % others.length]!;
      return entry({ signerId: who.id, login: who.login, printedName: who.printedName, signedAt: new Date() });
    });
    const rows = await Promise.all(entries.map((e) => appendSignature(stack.pool, e)));
    expect(new Set(rows.map((r) => r.prevHash)).size).toBe(rows.length);
    const verification = await verifyLedger(stack.pool);
    expect(verification).toMatchObject({ ok: true });
    expect(verification.rows).toBeGreaterThanOrEqual(rows.length);
  });

  it("joins the caller's transaction when given a client inside one, and rolls back with it", async () => {
    const client = await stack.pool.connect();
    const e = entry();
    try {
      await client.query('BEGIN');
      const row = await appendSignature(client, e);
      expect(row.taskId).toBe(e.taskId);
      await client.query('ROLLBACK');
      const { rows } = await stack.pool.query(`SELECT 1 FROM signature_ledger WHERE task_id = $1`, [e.taskId]);
      expect(rows).toHaveLength(0);
      // Outside a transaction the same client gets one of its own.
      const committed = await appendSignature(client, e);
      expect((await stack.pool.query(`SELECT id::int AS id FROM signature_ledger WHERE task_id = $1`, [e.taskId])).rows).toEqual([
        { id: committed.id },
      ]);
    } finally {
      client.release();
    }
    expect((await verifyLedger(stack.pool)).ok).toBe(true);
  });
});

describe('the ledger is append-only', () => {
  it('refuses UPDATE, DELETE and TRUNCATE in the database itself', async () => {
    const row = await appendSignature(stack.pool, entry());
    await expect(stack.pool.query(`UPDATE signature_ledger SET printed_name = 'Mallory' WHERE id = $1`, [row.id])).rejects.toThrow(
      /append-only: UPDATE refused/,
    );
    await expect(stack.pool.query(`DELETE FROM signature_ledger WHERE id = $1`, [row.id])).rejects.toThrow(/append-only: DELETE refused/);
    // In a transaction rolled back either way: were the trigger missing, the shared ledger would survive.
    const client = await stack.pool.connect();
    try {
      await client.query('BEGIN');
      // CASCADE: the chart changes reference the ledger, and a plain TRUNCATE would be refused by that key before the trigger ran.
      await expect(client.query(`TRUNCATE signature_ledger CASCADE`)).rejects.toThrow(/append-only: TRUNCATE refused/);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
    await stack.pool.query(`INSERT INTO security_log (event, login) VALUES ('login_failed', 'append-only-check')`);
    await expect(stack.pool.query(`UPDATE security_log SET login = 'x' WHERE login = 'append-only-check'`)).rejects.toThrow(/append-only/);
    await expect(stack.pool.query(`DELETE FROM security_log WHERE login = 'append-only-check'`)).rejects.toThrow(/append-only/);
    const { rows } = await stack.pool.query(`SELECT printed_name FROM signature_ledger WHERE id = $1`, [row.id]);
    expect(rows[0].printed_name).toBe('Ana Approver');
  });
});

describe('verifyLedger', () => {
  /**
   * Tampering as a superuser would (triggers off for the session), inside a transaction that is
   * rolled back, so test files running alongside never see a broken ledger.
   */
  async function tampered<T>(tamper: string, params: unknown[], check: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await stack.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL session_replication_role = replica`);
      await client.query(tamper, params);
      return await check(client);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  }

  it('names a row whose content was altered after signing', async () => {
    const victim = await appendSignature(stack.pool, entry());
    const after = await appendSignature(stack.pool, entry());
    const result = await tampered(
      `UPDATE signature_ledger SET printed_name = 'Mallory', meaning = 'rejected' WHERE id = $1`,
      [victim.id],
      (c) => verifyLedger(c),
    );
    expect(result).toMatchObject({ ok: false, firstBrokenId: victim.id });
    expect(result.reason).toMatch(/does not match its hash/);
    expect(after.id).toBeGreaterThan(victim.id);
    expect((await verifyLedger(stack.pool)).ok).toBe(true);
  });

  it('names the row after a deleted one, and a row whose hash was recomputed without relinking', async () => {
    const gone = await appendSignature(stack.pool, entry());
    const next = await appendSignature(stack.pool, entry());
    const deleted = await tampered(`DELETE FROM signature_ledger WHERE id = $1`, [gone.id], (c) => verifyLedger(c));
    expect(deleted).toMatchObject({ ok: false, firstBrokenId: next.id });
    expect(deleted.reason).toMatch(/does not link/);

    // Rewriting a row and its own hash consistently still breaks the link from the next row.
    const forged = { ...gone, printedName: 'Mallory' };
    const rehashed = await tampered(
      `UPDATE signature_ledger SET printed_name = $2, hash = $3 WHERE id = $1`,
      [gone.id, forged.printedName, ledgerRowHash(forged)],
      (c) => verifyLedger(c),
    );
    expect(rehashed).toMatchObject({ ok: false, firstBrokenId: next.id });
  });

  it('is served on GET /signatures/verify to QA heads, auditors and admins only', async () => {
    await appendSignature(stack.pool, entry());
    for (const role of ['qa_head', 'auditor', 'admin'] as const) {
      const who = await signedInUser(stack.app, stack.pool, { roles: [role] });
      const res = await request(stack.app).get('/signatures/verify').set(bearer(who.token)).expect(200);
      expect(res.body).toMatchObject({ ok: true });
      expect(res.body.rows).toBeGreaterThan(0);
    }
    const lead = await signedInUser(stack.app, stack.pool, { roles: ['qa_lead'] });
    await request(stack.app).get('/signatures/verify').set(bearer(lead.token)).expect(403);
    await request(stack.app).get('/signatures/verify').expect(401);
  });
});
