import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createPool, type Pool } from '../../db/pool';
import * as msg from '../../workflows/messages';
import { eventually } from '../helpers/eventually';
import { signatureOf } from '../helpers/actors';
import { createUser, type TestUser } from '../helpers/users';
import { createTestWorker, createTimeSkippingEnv, deviationInput, serverNow, workflowTestActivities } from '../helpers/time-skipping';

/** The real 60-minute containment clock of the production policy, on the time-skipping server. */
let env: TestWorkflowEnvironment;
let pool: Pool;
let qaLead: TestUser;
// A test server of its own per test: an activity left outstanding by one test's stopped worker
// would otherwise keep the shared server's clock from skipping in the next.
beforeEach(async () => {
  env = await createTimeSkippingEnv();
});
afterEach(async () => {
  await env?.teardown();
});
beforeAll(async () => {
  pool = createPool(process.env.DATABASE_URL!, 4);
  qaLead = await createUser(pool, { roles: ['qa_lead'] });
});

/** Containment is confirmed by signing its sign-off task (the first task of every deviation). */
async function confirm(handle: WorkflowHandle) {
  const signedAt = new Date(await env.currentTimeMs()).toISOString();
  await handle.executeUpdate(msg.signTask, {
    args: [{ by: qaLead.login, taskId: 'T1', signature: signatureOf(qaLead, 'verified', signedAt) }],
  });
  return handle.query(msg.getStateQuery);
}
afterAll(async () => {
  await pool?.end();
});

const detectedNow = () => serverNow(env);

async function notifications(deviationId: string): Promise<string[]> {
  const { rows } = await pool.query<{ kind: string }>('SELECT kind FROM notifications WHERE deviation_id = $1 ORDER BY id', [deviationId]);
  return rows.map((r) => r.kind);
}

async function waitForActions(handle: {
  query: (q: typeof msg.getStateQuery) => Promise<{ containment: { actionsCompletedAt?: string } }>;
}) {
  for (let i = 0; i < 100; i++) {
    const s = await handle.query(msg.getStateQuery);
    if (s.containment.actionsCompletedAt) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('containment actions did not complete');
}

it('containment confirmed within 60 minutes: no breach, one hold per batch, the team alerted', async () => {
  const { worker, taskQueue } = await createTestWorker(env, workflowTestActivities(pool));
  const input = deviationInput({
    batches: ['TSA1', 'TSA2'].map((b) => `${b}${Date.now()}`),
    detectedAt: await detectedNow(),
    reportedBy: qaLead.login,
  });
  await worker.runUntil(async () => {
    const handle = await env.client.workflow.start('DeviationWorkflow', { workflowId: input.id, taskQueue, args: [input] });
    await waitForActions(handle);
    await env.sleep('20 minutes');
    const state = await confirm(handle);
    expect(state.containment.confirmation).toMatchObject({ by: qaLead.login, late: false });
    expect(state.tasks[0]).toMatchObject({ gate: 'containment_verification', status: 'signed' });
    expect(state.containment.confirmation!.minutesAfterDetection).toBeGreaterThanOrEqual(20);
    expect(state.containment.confirmation!.minutesAfterDetection).toBeLessThan(60);
    await env.sleep('2 hours');
    const after = await handle.query(msg.getStateQuery);
    expect(after.stage).toBe('investigation');
    expect(after.slaBreaches).toEqual([]);
    expect(after.containment.holds.map((h) => h.lot).sort()).toEqual([...input.batches].sort());
  });
  const { rows } = await pool.query('SELECT lot FROM holds WHERE deviation_id = $1', [input.id]);
  expect(rows).toHaveLength(2);
  expect(await notifications(input.id)).toEqual(['containment_alert', 'signoff_required']);
});

it('containment missed: reminders, escalation and an SLA breach at 60 minutes; a late confirmation stays marked late', async () => {
  const { worker, taskQueue } = await createTestWorker(env, workflowTestActivities(pool));
  const input = deviationInput({ severity: 'critical', detectedAt: await detectedNow(), reportedBy: qaLead.login });
  await worker.runUntil(async () => {
    const handle = await env.client.workflow.start('DeviationWorkflow', { workflowId: input.id, taskQueue, args: [input] });
    await waitForActions(handle);
    await env.sleep('59 minutes');
    const before = await handle.query(msg.getStateQuery);
    expect(before.containment.remindersSent).toBe(3);
    expect(before.slaBreaches).toEqual([]);

    await env.sleep('2 minutes');
    const breached = await handle.query(msg.getStateQuery);
    expect(breached.slaBreaches.map((b) => b.clock)).toEqual(['containment']);
    const breachMinute = (Date.parse(breached.containment.slaBreachedAt!) - Date.parse(input.detectedAt)) / 60_000;
    expect(breachMinute).toBeGreaterThanOrEqual(60);
    expect(breachMinute).toBeLessThan(61);
    expect(breached.deadlines.find((d) => d.key === 'containment')).toMatchObject({ overdue: true, escalated: true });

    await env.sleep('30 minutes');
    const late = await confirm(handle);
    expect(late.containment.confirmation).toMatchObject({ late: true });
    expect(late.containment.confirmation!.minutesAfterDetection).toBeGreaterThanOrEqual(90);
    const row = await eventually(async () => {
      const { rows } = await pool.query('SELECT sla_breached, stage FROM deviations WHERE id = $1', [input.id]);
      return rows[0]?.stage === 'investigation' ? rows[0] : undefined;
    });
    expect(row).toEqual({ sla_breached: true, stage: 'investigation' });
  });
  expect(await notifications(input.id)).toEqual([
    'containment_alert',
    'signoff_required',
    'containment_reminder',
    'containment_reminder',
    'containment_reminder',
    'escalation',
  ]);
});
