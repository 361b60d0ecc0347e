import request from 'supertest';
import * as msg from '../../workflows/messages';
import { as, createCast, sign, signatureOf, type Actor, type Cast } from '../helpers/actors';
import { compressedPolicy, eventually, startStack, type TestStack } from '../helpers/stack';
import { acceptedUpdates, inDays, openContainedDeviation, stateOf, step, waitForState, type StateJson } from './helpers';

/**
 * Separation of duties holds one request at a time: each race below fires 50 requests at once and
 * must end with exactly the outcome one request at a time would give — one signature per person,
 * one decision per task — with the ledger and the history agreeing.
 */
let stack: TestStack;
let cast: Cast;
beforeAll(async () => {
  stack = await startStack({ policy: compressedPolicy() });
  cast = await createCast(stack.app, stack.pool);
});
afterAll(async () => {
  await stack.stop();
});

const RACERS = 50;
const creds = (a: Actor) => ({ login: a.login, password: a.password });

async function openTask(id: string, gate: string): Promise<string> {
  return eventually(async () => {
    const inbox = await request(stack.app).get('/tasks').query({ deviation: id, gate, scope: 'all' }).set(as(cast.auditor)).expect(200);
    return inbox.body.items[0]?.id as string | undefined;
  });
}
async function ledgerRows(taskId: string): Promise<string[]> {
  const { rows } = await stack.pool.query<{ signer_login: string; meaning: string }>(
    'SELECT signer_login, meaning FROM signature_ledger WHERE task_id = $1 ORDER BY id',
    [taskId],
  );
  return rows.map((r) => `${r.meaning}:${r.signer_login}`);
}
/** Fires every request at once; answers the statuses, with who sent each. */
async function race(requests: Array<[Actor, () => request.Test]>): Promise<Array<{ who: string; status: number }>> {
  const answers = await Promise.all(
    requests.map(async ([actor, send]) => {
      const res = await send();
      return { who: actor.login, status: res.status, detail: res.body?.detail as string | undefined };
    }),
  );
  // Every loser is told why: a conflict (already signed, a decision in flight) or a duty (the same person).
  expect(answers.filter((a) => ![200, 201, 403, 409].includes(a.status))).toEqual([]);
  return answers;
}
const successes = (answers: Array<{ who: string; status: number }>) =>
  answers.filter((a) => a.status === 200 || a.status === 201).map((a) => a.who);
const signRequest = (actor: Actor, task: string, meaning: 'approved' | 'verified') =>
  [actor, () => sign(stack.app, actor, task, meaning)] as [Actor, () => request.Test];
const rejectRequest = (actor: Actor, task: string) =>
  [
    actor,
    () =>
      request(stack.app)
        .post(`/tasks/${task}/reject`)
        .set(as(actor))
        .send({ reason: 'report incomplete', ...creds(actor) }),
  ] as [Actor, () => request.Test];
const signUpdates = async (id: string) =>
  (await acceptedUpdates(stack.temporal, id)).filter((n) => n === 'signTask' || n === 'rejectTask').length;

it('through the API: one signer 50 times, approve against reject, both halves of a change control and of the dual closure — one outcome each, ledger and history agreeing', async () => {
  const id = await openContainedDeviation(stack.app, cast, { severity: 'major', lines: ['L9'] });
  const lot = (await stateOf(stack.app, cast, id)).batches[0] as string;

  // The same person signs containment 50 times at once: one signature.
  const t1 = await openTask(id, 'containment_verification');
  const same = await race(Array.from({ length: RACERS }, () => signRequest(cast.qaLead, t1, 'verified')));
  expect(successes(same)).toEqual([cast.qaLead.login]);
  expect(await ledgerRows(t1)).toEqual([`verified:${cast.qaLead.login}`]);
  const contained = await waitForState(stack.app, cast, id, (s) => s.stage === 'investigation');
  expect(contained.tasks[0].signatures).toHaveLength(1);
  expect(await signUpdates(id)).toBe(1);

  // Approve and reject the investigation report at once: one decision.
  const submitReport = async () => {
    await step(stack.app, id, cast.investigator, 'root-cause-analyses', {
      analysis: { method: 'five_why', problem: 'p', whys: [1, 2, 3].map((n) => ({ question: `q${n}`, answer: `a${n}` })), rootCause: 'r' },
    });
    await step(stack.app, id, cast.investigator, 'risk-assessment', {
      assessment: { method: 'risk_class', riskClass: 'medium', rationale: 'x' },
    });
    await step(stack.app, id, cast.investigator, 'investigation/report', {
      summary: 'Buffer replay after restart',
      rootCause: 'Print buffer replayed',
    });
  };
  await submitReport();
  const t2 = await openTask(id, 'investigation_approval');
  const mixed = await race(
    Array.from({ length: RACERS }, (_, i) => (i % 2 ? rejectRequest(cast.approver2, t2) : signRequest(cast.approver1, t2, 'approved'))),
  );
  const decided = successes(mixed);
  expect(decided).toHaveLength(1);
  expect((await ledgerRows(t2)).length).toBe(1);
  expect(await signUpdates(id)).toBe(2);
  const afterDecision = await stateOf(stack.app, cast, id);
  const task2 = afterDecision.tasks.find((t: StateJson) => `${id}.${t.id}` === t2);
  if (decided[0] === cast.approver1.login) {
    expect(task2).toMatchObject({ status: 'signed', signatures: [expect.objectContaining({ login: cast.approver1.login })] });
    expect(task2.rejection).toBeUndefined();
  } else {
    expect(task2).toMatchObject({ status: 'rejected', signatures: [] });
    expect(task2.rejection.signature.login).toBe(cast.approver2.login);
    await submitReport();
    const again = await openTask(id, 'investigation_approval');
    expect((await sign(stack.app, cast.approver1, again, 'approved')).status).toBe(201);
  }
  await waitForState(stack.app, cast, id, (s) => s.stage === 'capa');

  await step(stack.app, id, cast.capaOwner, 'capa/actions', {
    type: 'corrective',
    description: 'Clear print queue on restart',
    owner: cast.capaOwner.login,
    dueDate: inDays(10),
    changeControl: { kind: 'sop', description: 'Revise SOP-PKG-012' },
  });
  expect((await sign(stack.app, cast.approver1, await openTask(id, 'capa_plan_approval'), 'approved')).status).toBe(201);
  await waitForState(stack.app, cast, id, (s) => s.rounds[0].changeControls.length === 1);
  await step(stack.app, id, cast.capaOwner, 'capa/actions/A1/complete', { evidence: 'SOP-PKG-012 v5 approved' });
  await step(stack.app, id, cast.validation, 'change-controls/CC1/impact-assessment', {
    validationStatusAffected: true,
    requalificationRequired: false,
    systemsAffected: ['L9 line controller'],
    summary: 'SOP only',
  });

  // A dual change-control approval: one person 50 times gives one approval; then two others race for the second.
  const approveCc = (actor: Actor) =>
    [actor, () => request(stack.app).post(`/deviations/${id}/change-controls/CC1/approve`).set(as(actor)).send(creds(actor))] as [
      Actor,
      () => request.Test,
    ];
  expect(successes(await race(Array.from({ length: RACERS }, () => approveCc(cast.approver1))))).toEqual([cast.approver1.login]);
  const second = successes(await race(Array.from({ length: RACERS }, (_, i) => approveCc(i % 2 ? cast.qaHead : cast.approver2))));
  expect(second).toHaveLength(1);
  const cc = (await request(stack.app).get(`/deviations/${id}/change-controls/CC1`).set(as(cast.auditor)).expect(200)).body;
  expect(cc.approvals.map((a: { by: string }) => a.by)).toEqual([cast.approver1.login, second[0]]);
  expect(cc.status).toBe('implementation');
  expect(await ledgerRows(`${id}.CC1.approve`)).toEqual([`approved:${cast.approver1.login}`, `approved:${second[0]}`]);
  const ccHistory = (await acceptedUpdates(stack.temporal, `${id}-CC1`)).filter((n) => n === 'approveChangeControl');
  expect(ccHistory).toHaveLength(2);

  await step(stack.app, id, cast.production, 'change-controls/CC1/implementation', { summary: 'Operators trained on v5' });
  await step(stack.app, id, cast.validation, 'change-controls/CC1/verify', creds(cast.validation));
  await waitForState(stack.app, cast, id, (s) => s.stage === 'effectiveness_check');
  await waitForState(stack.app, cast, id, (s) => s.rounds[0].effectiveness.checks.length === 2);
  await step(stack.app, id, cast.qaHead, 'effectiveness/decide', { effective: true, rationale: 'No recurrence in manual review' });
  expect((await sign(stack.app, cast.approver1, await openTask(id, 'effectiveness_verification'), 'verified')).status).toBe(201);
  await waitForState(stack.app, cast, id, (s) => s.stage === 'closure');
  await step(stack.app, id, cast.approver1, 'dispositions', { lot, disposition: 'release', reason: 'Reconciled clean' });

  // The dual closure: two people race, 25 requests each; each signs once and the deviation closes.
  const closure = await openTask(id, 'closure_approval');
  const halves = successes(
    await race(Array.from({ length: RACERS }, (_, i) => signRequest(i % 2 ? cast.qaHead : cast.approver1, closure, 'approved'))),
  );
  expect([...halves].sort()).toEqual([cast.approver1.login, cast.qaHead.login].sort());
  expect([...(await ledgerRows(closure))].sort()).toEqual([`approved:${cast.approver1.login}`, `approved:${cast.qaHead.login}`].sort());
  const closed = await waitForState(stack.app, cast, id, (s) => s.stage === 'closed');
  expect(
    closed.tasks
      .find((t: StateJson) => `${id}.${t.id}` === closure)
      .signatures.map((s: StateJson) => s.login)
      .sort(),
  ).toEqual([cast.approver1.login, cast.qaHead.login].sort());
  const verify = await request(stack.app).get('/signatures/verify').set(as(cast.auditor)).expect(200);
  expect(verify.body.ok).toBe(true);
  // hundreds of signing requests (each a password hash) and a whole lifecycle: minutes on a busy two-core machine
}, 300_000);

it('straight to the workflow: 50 simultaneous Updates of one signer, or of an approval and a rejection, give one accepted decision', async () => {
  const id = await openContainedDeviation(stack.app, cast);
  const handle = stack.temporal.workflow.getHandle(id);
  const now = () => new Date().toISOString();
  const signUpdate = () =>
    handle.executeUpdate(msg.signTask, {
      args: [{ by: cast.qaLead.login, taskId: 'T1', signature: signatureOf(cast.qaLead, 'verified', now()) }],
    });
  const settled = await Promise.allSettled(Array.from({ length: RACERS }, signUpdate));
  expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(1);
  expect(await signUpdates(id)).toBe(1);
  expect(await ledgerRows(`${id}.T1`)).toEqual([`verified:${cast.qaLead.login}`]);

  // A second deviation: a QA lead verifies while another rejects, 25 each, at once.
  const other = await openContainedDeviation(stack.app, cast);
  const otherHandle = stack.temporal.workflow.getHandle(other);
  const secondLead = { ...cast.qaHead, roles: ['qa_lead' as const] };
  const decisions = await Promise.allSettled(
    Array.from({ length: RACERS }, (_, i) =>
      i % 2
        ? otherHandle.executeUpdate(msg.rejectTask, {
            args: [
              { by: secondLead.login, taskId: 'T1', reason: 'holds incomplete', signature: signatureOf(secondLead, 'rejected', now()) },
            ],
          })
        : otherHandle.executeUpdate(msg.signTask, {
            args: [{ by: cast.qaLead.login, taskId: 'T1', signature: signatureOf(cast.qaLead, 'verified', now()) }],
          }),
    ),
  );
  expect(decisions.filter((s) => s.status === 'fulfilled')).toHaveLength(1);
  expect(await ledgerRows(`${other}.T1`)).toHaveLength(1);
  const state = await otherHandle.query(msg.getStateQuery);
  const t1 = state.tasks.find((t) => t.id === 'T1')!;
  expect(
    t1.status === 'signed' ? t1.signatures.length === 1 && !t1.rejection : t1.status === 'rejected' && t1.signatures.length === 0,
  ).toBe(true);
});
