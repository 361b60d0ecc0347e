import request from 'supertest';
import { compressedPolicy, eventually, startStack, type TestStack } from '../helpers/stack';
import { newDeviationRequest } from '../helpers/fixtures';
import { bearer, signedInUser } from '../helpers/users';
import type { Policy } from '../../domain/policy';

/** Many deviations at once through one worker: every containment timer fires, none is lost. */
let stack: TestStack;
let lead: Record<string, string>;
const COUNT = 200;
/** What the engine itself sends for a deviation whose containment runs out (other tests may name a deviation number in a security event). */
const KINDS = ['containment_alert', 'containment_reminder', 'escalation', 'signoff_required'];

beforeAll(async () => {
  // A wider window than the compressed default, so all two hundred are open before the first deadline.
  const policy = compressedPolicy() as Policy;
  for (const s of Object.values(policy.severities)) {
    s.containmentWindow = '40 seconds';
    s.containmentReminders = ['20 seconds'];
  }
  stack = await startStack({ policy });
  lead = bearer((await signedInUser(stack.app, stack.pool, { roles: ['qa_lead'] })).token);
});
afterAll(async () => {
  await stack.stop();
});

it(`${COUNT} deviations in flight at once: every containment clock fires`, async () => {
  const ids: string[] = [];
  for (let i = 0; i < COUNT; i += 20) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(20, COUNT - i) }, () =>
        request(stack.app).post('/deviations').set(lead).send(newDeviationRequest()).expect(201),
      ),
    );
    ids.push(...batch.map((r) => r.body.id as string));
  }
  expect(new Set(ids).size).toBe(COUNT);

  const breached = await eventually(
    async () => {
      const { rows } = await stack.pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM deviations WHERE id = ANY($1) AND sla_breached',
        [ids],
      );
      return rows[0]!.n === COUNT ? rows[0]!.n : undefined;
    },
    180_000,
    1_000,
  );
  expect(breached).toBe(COUNT);

  // Every deviation's containment actions and clock leave their notifications (the machine may be
  // busy, so the last activities can trail the timers by a little).
  const rows = await eventually(
    async () => {
      const r = await stack.pool.query<{ kind: string; n: number }>(
        `SELECT kind, count(DISTINCT deviation_id)::int AS n FROM notifications WHERE deviation_id = ANY($1) AND kind = ANY($2) GROUP BY kind ORDER BY kind`,
        [ids, KINDS],
      );
      return r.rows.every((row) => row.n === COUNT) && r.rows.length === 4 ? r.rows : undefined;
    },
    120_000,
    1_000,
  ).catch(
    async () =>
      (
        await stack.pool.query(
          `SELECT kind, count(DISTINCT deviation_id)::int AS n FROM notifications WHERE deviation_id = ANY($1) AND kind = ANY($2) GROUP BY kind ORDER BY kind`,
          [ids, KINDS],
        )
      ).rows,
  );
  expect(rows).toEqual([
    { kind: 'containment_alert', n: COUNT },
    { kind: 'containment_reminder', n: COUNT },
    { kind: 'escalation', n: COUNT },
    { kind: 'signoff_required', n: COUNT },
  ]);
}, 420_000);
