import request from 'supertest';
import { verifyAuditTrail } from '../../audit/trail';
import { newDeviationRequest } from '../helpers/fixtures';
import { eventually, startStack, startWorker, type TestStack } from '../helpers/stack';
import { bearer, signedInUser } from '../helpers/users';

/**
 * Opening a deviation through the API places its distribution holds before the answer leaves, even
 * with no worker running: product must not ship while the deviation waits for one. The workflow's
 * containment, when a worker takes it up, finds those holds rather than placing others: one hold
 * per batch and one audit row each, whoever came first.
 */
let stack: TestStack;
let lead: Record<string, string>;

beforeAll(async () => {
  stack = await startStack({ worker: false });
  lead = bearer((await signedInUser(stack.app, stack.pool, { roles: ['qa_lead'] })).token);
});
afterAll(async () => {
  await stack.stop();
});

const holdsOf = async (id: string) =>
  (await stack.pool.query('SELECT lot, placed_by, reason FROM holds WHERE deviation_id = $1 ORDER BY lot', [id])).rows;
const holdAuditsOf = async (id: string) =>
  (
    await stack.pool.query(
      `SELECT entity_id AS lot FROM audit_trail WHERE deviation_id = $1 AND action = 'hold.placed' ORDER BY entity_id`,
      [id],
    )
  ).rows;

it("records the opening request in its holds' transaction, after their rows; when the holds fail, the request is recorded all the same", async () => {
  const batches = ['LOT-TXN-A1', 'LOT-TXN-B2'];
  const opened = await request(stack.app).post('/deviations').set(lead).send(newDeviationRequest({ batches })).expect(201);
  const id = opened.body.id as string;
  // Rows that share xmin were written by one transaction: the holds and their request commit together.
  const auditsOf = async (deviation: string) =>
    (
      await stack.pool.query<{ action: string; tx: string; status: number | null }>(
        `SELECT action, xmin::text AS tx, (details->>'status')::int AS status FROM audit_trail WHERE deviation_id = $1 ORDER BY id`,
        [deviation],
      )
    ).rows;
  const rows = await auditsOf(id);
  expect(rows.map((r) => r.action)).toEqual(['hold.placed', 'hold.placed', 'POST /deviations']);
  expect(new Set(rows.map((r) => r.tx)).size).toBe(1);
  expect(rows[2]!.status).toBe(201);

  // The database refuses this one lot's hold: the deviation opens (its workflow will place the hold),
  // and the audit middleware records the request on its own, once.
  const refusedLot = 'LOT-REFUSED-X9';
  await stack.pool.query(`
    CREATE FUNCTION holds_at_opening_test_refusal() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.lot = '${refusedLot}' THEN RAISE EXCEPTION 'hold refused by the test'; END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER holds_at_opening_test_refusal BEFORE INSERT ON holds FOR EACH ROW EXECUTE FUNCTION holds_at_opening_test_refusal();`);
  try {
    const refused = await request(stack.app)
      .post('/deviations')
      .set(lead)
      .send(newDeviationRequest({ batches: [refusedLot] }))
      .expect(201);
    expect(refused.body.holds).toEqual([]);
    expect((await auditsOf(refused.body.id as string)).map((r) => [r.action, r.status])).toEqual([['POST /deviations', 201]]);
  } finally {
    await stack.pool.query('DROP TRIGGER holds_at_opening_test_refusal ON holds; DROP FUNCTION holds_at_opening_test_refusal()');
  }
  expect((await verifyAuditTrail(stack.pool)).ok).toBe(true);
});

it('answers 201 with every batch on hold before any worker runs; the workflow then adopts the same holds', async () => {
  const batches = ['LOT-OPEN-A1', 'LOT-OPEN-B2'];
  const body = newDeviationRequest({ batches, title: 'Aggregation mismatch on line 4' });
  const key = `holds-at-opening-${Date.now()}`;
  const opened = await request(stack.app).post('/deviations').set(lead).set('Idempotency-Key', key).send(body).expect(201);
  const id = opened.body.id as string;
  expect(opened.body.holds.map((h: { lot: string }) => h.lot)).toEqual(batches);
  for (const h of opened.body.holds)
    expect(h).toEqual({ lot: expect.any(String), holdId: expect.stringMatching(/^H\d+$/), placedAt: expect.any(String) });

  // No worker yet: the holds are in the database, with their audit rows.
  const reason = `Distribution hold for deviation ${id}: Aggregation mismatch on line 4`;
  expect(await holdsOf(id)).toEqual(batches.map((lot) => ({ lot, placed_by: 'system', reason })));
  expect(await holdAuditsOf(id)).toEqual(batches.map((lot) => ({ lot })));

  // The same request again (a client's retry) opens nothing and answers the same holds.
  const again = await request(stack.app).post('/deviations').set(lead).set('Idempotency-Key', key).send(body).expect(200);
  expect(again.body).toMatchObject({ id, holds: opened.body.holds });

  // A worker takes the deviation up: its containment reports the holds the API placed, and places none.
  stack.worker = await startWorker(stack.config, stack.pool);
  const state = await eventually(async () => {
    const s = (await request(stack.app).get(`/deviations/${id}`).set(lead).expect(200)).body.deviation;
    return s.containment.holds.length === batches.length ? s : undefined;
  }, 30_000);
  expect(state.containment.holds.map((h: { lot: string; holdId: string }) => ({ lot: h.lot, holdId: h.holdId }))).toEqual(
    opened.body.holds.map((h: { lot: string; holdId: string }) => ({ lot: h.lot, holdId: h.holdId })),
  );
  expect(await holdsOf(id)).toHaveLength(batches.length);
  expect(await holdAuditsOf(id)).toEqual(batches.map((lot) => ({ lot })));
  expect((await verifyAuditTrail(stack.pool)).ok).toBe(true);
});
