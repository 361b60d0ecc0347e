import request from 'supertest';
import { as, createCast, sign, type Cast } from '../helpers/actors';
import { compressedPolicy, eventually, startStack, type TestStack } from '../helpers/stack';
import { acceptedUpdates, inDays, openContainedDeviation, step, waitForState } from './helpers';

/** Duties the probe found open: approving one's own extension, completing someone else's CAPA action. */
let stack: TestStack;
let cast: Cast;
beforeAll(async () => {
  stack = await startStack({ policy: compressedPolicy() });
  cast = await createCast(stack.app, stack.pool);
});
afterAll(async () => {
  await stack.stop();
});

async function toCapa(): Promise<string> {
  const id = await openContainedDeviation(stack.app, cast, { severity: 'minor' });
  const t1 = await eventually(
    async () =>
      (await request(stack.app).get('/tasks').query({ deviation: id }).set(as(cast.qaLead))).body.items[0]?.id as string | undefined,
  );
  expect((await sign(stack.app, cast.qaLead, t1, 'verified')).status).toBe(201);
  await waitForState(stack.app, cast, id, (s) => s.stage === 'investigation');
  await step(stack.app, id, cast.investigator, 'root-cause-analyses', {
    analysis: { method: 'five_why', problem: 'p', whys: [1, 2, 3].map((n) => ({ question: `q${n}`, answer: `a${n}` })), rootCause: 'r' },
  });
  await step(stack.app, id, cast.investigator, 'risk-assessment', {
    assessment: { method: 'risk_class', riskClass: 'low', rationale: 'x' },
  });
  await step(stack.app, id, cast.investigator, 'investigation/report', { summary: 's', rootCause: 'r' });
  const t2 = await eventually(
    async () =>
      (await request(stack.app).get('/tasks').query({ deviation: id, gate: 'investigation_approval' }).set(as(cast.approver1))).body
        .items[0]?.id as string | undefined,
  );
  expect((await sign(stack.app, cast.approver1, t2, 'approved')).status).toBe(201);
  await waitForState(stack.app, cast, id, (s) => s.stage === 'capa');
  return id;
}

it('the person who requested a due-date extension cannot approve it; another approver can', async () => {
  const id = await toCapa();
  await step(stack.app, id, cast.capaOwner, 'capa/actions', {
    type: 'correction',
    description: 'Retrain operators',
    owner: cast.capaOwner.login,
    dueDate: inDays(5),
  });
  const plan = await eventually(
    async () =>
      (await request(stack.app).get('/tasks').query({ deviation: id, gate: 'capa_plan_approval' }).set(as(cast.approver1))).body.items[0]
        ?.id as string | undefined,
  );
  // The approver asks for more time on the plan's own sign-off, then tries to approve the request.
  const planTaskKey = plan.split('.')[1];
  await step(stack.app, id, cast.approver1, 'extensions', {
    deadline: planTaskKey,
    newDueAt: inDays(20),
    justification: 'Waiting for the vendor',
  });
  const extension = await eventually(
    async () =>
      (await request(stack.app).get('/tasks').query({ deviation: id, gate: 'extension_approval' }).set(as(cast.approver1))).body.items[0]
        ?.id as string | undefined,
  );
  const before = await acceptedUpdates(stack.temporal, id);
  const own = await sign(stack.app, cast.approver1, extension, 'approved');
  expect(own.status).toBe(403);
  expect(own.body.detail).toMatch(/requested an extension cannot approve it/);
  expect(await acceptedUpdates(stack.temporal, id)).toEqual(before);
  const ledger = await stack.pool.query('SELECT 1 FROM signature_ledger WHERE task_id = $1', [extension]);
  expect(ledger.rowCount).toBe(0);
  expect((await sign(stack.app, cast.approver2, extension, 'approved')).status).toBe(201);
  const state = await waitForState(stack.app, cast, id, (s) =>
    s.deadlines.some(
      (d: { key: string; extensions?: Array<{ status: string }> }) => d.key === planTaskKey && d.extensions?.[0]?.status === 'approved',
    ),
  );
  expect(state.deadlines.find((d: { key: string }) => d.key === planTaskKey).extensions[0]).toMatchObject({
    requestedBy: cast.approver1.login,
    decision: { by: cast.approver2.login },
  });
});

it('only the owner of a CAPA action, or QA, completes it', async () => {
  const id = await toCapa();
  await step(stack.app, id, cast.capaOwner, 'capa/actions', {
    type: 'correction',
    description: 'Decommission the duplicates',
    owner: cast.capaOwner.login,
    dueDate: inDays(5),
  });
  await step(stack.app, id, cast.capaOwner, 'capa/actions', {
    type: 'preventive',
    description: 'Add a duplicate check',
    owner: cast.it.login,
    dueDate: inDays(5),
  });
  const plan = await eventually(
    async () =>
      (await request(stack.app).get('/tasks').query({ deviation: id, gate: 'capa_plan_approval' }).set(as(cast.approver1))).body.items[0]
        ?.id as string | undefined,
  );
  expect((await sign(stack.app, cast.approver1, plan, 'approved')).status).toBe(201);
  await waitForState(stack.app, cast, id, (s) => Boolean(s.rounds[0].capa.planApproval));

  const before = await acceptedUpdates(stack.temporal, id);
  const foreign = await request(stack.app)
    .post(`/deviations/${id}/capa/actions/A1/complete`)
    .set(as(cast.production))
    .send({ evidence: 'done' });
  expect(foreign.status).toBe(403);
  expect(foreign.body.detail).toMatch(/only the owner of A1 or QA/);
  await request(stack.app)
    .post(`/deviations/${id}/capa/actions/A2/complete`)
    .set(as(cast.capaOwner))
    .send({ evidence: 'done' })
    .expect(403);
  expect(await acceptedUpdates(stack.temporal, id)).toEqual(before);

  await step(stack.app, id, cast.capaOwner, 'capa/actions/A1/complete', { evidence: 'Duplicates decommissioned' });
  await step(stack.app, id, cast.qaLead, 'capa/actions/A2/complete', { evidence: 'Check deployed; verified by QA' });
  const state = await waitForState(stack.app, cast, id, (s) =>
    s.rounds[0].capa.actions.every((a: { status: string }) => a.status === 'completed'),
  );
  expect(state.rounds[0].capa.actions.map((a: { completion: { by: string } }) => a.completion.by)).toEqual([
    cast.capaOwner.login,
    cast.qaLead.login,
  ]);
});
