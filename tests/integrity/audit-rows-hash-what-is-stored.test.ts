import { appendAudit, verifyAuditTrail } from '../../audit/trail';
import { startStack, type TestStack } from '../helpers/stack';

/**
 * PostgreSQL refuses a NUL and stores a lone surrogate as U+FFFD. A row hashed with the text as
 * sent and stored as changed would break the audit trail's chain at that row: every string of a
 * row is made storable first, and the chain still verifies.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(async () => {
  await stack.stop();
});

it('stores and hashes the same storable text, so the chain verifies after unstorable input', async () => {
  const row = await appendAudit(stack.pool, {
    actor: 'anonymous',
    action: 'POST /users/:id/unlock-signing',
    entityType: 'api_call',
    entityId: '/users/x\ud800/unlock-signing',
    reason: 'reason with NUL\u0000 and a lone surrogate \udc00',
    details: { ['key\ud800']: ['value\u0000', { nested: 'x\udfff' }] },
  });
  const { rows } = await stack.pool.query('SELECT reason, entity_id, details FROM audit_trail WHERE id = $1', [row.id]);
  expect(rows[0]).toEqual({
    reason: 'reason with NUL\ufffd and a lone surrogate \ufffd',
    entity_id: '/users/x\ufffd/unlock-signing',
    details: { ['key\ufffd']: ['value\ufffd', { nested: 'x\ufffd' }] },
  });
  expect(await verifyAuditTrail(stack.pool)).toMatchObject({ ok: true });
});

it('hashes in the database exactly what the application canonicalised: quotes, escapes, other scripts and a nested prevHash key', async () => {
  const rows = await Promise.all(
    ['"prevHash":"', '\\u0041 ✓ 漢字 😀 ﬀ', '\u2028\u2029\t\n'].map((text, i) =>
      appendAudit(stack.pool, {
        actor: 'qa.lead',
        action: 'test.canonical-text',
        entityType: 'test',
        entityId: `canonical-${i}`,
        before: null,
        after: { prevHash: text, n: 1.5e-7, big: 12345678901234567890, list: [true, null, -0] },
        reason: text,
        details: { '€': text, '\u00e9': 'é' },
      }),
    ),
  );
  for (const row of rows) {
    const { rows: stored } = await stack.pool.query('SELECT hash, prev_hash, before FROM audit_trail WHERE id = $1', [row.id]);
    expect(stored[0]).toEqual({ hash: row.hash, prev_hash: row.prevHash, before: null });
  }
  expect(await verifyAuditTrail(stack.pool)).toMatchObject({ ok: true });
});
