import request from 'supertest';
import { compressedPolicy, eventually, startStack, type TestStack } from '../helpers/stack';
import { newDeviationRequest } from '../helpers/fixtures';
import { archiveRun } from '../../audit/archive';
import { as, createCast, sign, type Actor, type Cast } from '../helpers/actors';

// The API answers JSON: the state as a client sees it, loosely typed on purpose.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type DeviationStateJson = Record<string, any>;

/** Every stage through the HTTP API on the dev server, under the compressed policy (an hour in seconds). */
let stack: TestStack;
let cast: Cast;
beforeAll(async () => {
  stack = await startStack({ policy: compressedPolicy() });
  cast = await createCast(stack.app, stack.pool);
});
afterAll(async () => {
  await stack.stop();
});

const inDays = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString();

async function stateOf(id: string) {
  return (await request(stack.app).get(`/deviations/${id}`).set(as(cast.auditor)).expect(200)).body.deviation;
}
async function openDeviation(body: Record<string, unknown>): Promise<string> {
  return (await request(stack.app).post('/deviations').set(as(cast.qaLead)).send(body).expect(201)).body.id as string;
}
/** Finds the open task of a gate in the signer's inbox and signs it with ID and password. */
async function signGate(id: string, gate: string, signer: Actor, meaning: 'reviewed' | 'approved' | 'verified', status = 201) {
  const task = await eventually(async () => {
    // Found through the auditor's view of every task, so a signer without the role can be refused too.
    const inbox = await request(stack.app).get('/tasks').query({ deviation: id, gate, scope: 'all' }).set(as(cast.auditor)).expect(200);
    return inbox.body.items[0];
  });
  const res = await sign(stack.app, signer, task.id, meaning);
  if (res.status !== status) throw new Error(`sign ${gate}: expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}
async function waitForState(id: string, done: (s: DeviationStateJson) => boolean, timeoutMs = 30_000) {
  return eventually(async () => {
    const s = await stateOf(id);
    return done(s) ? s : undefined;
  }, timeoutMs);
}
async function step(id: string, actor: Actor, path: string, body: Record<string, unknown>, status = 200) {
  const res = await request(stack.app).post(`/deviations/${id}/${path}`).set(as(actor)).send(body);
  if (res.status !== status) throw new Error(`${path}: expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}
/**
 * The human input a deviation's history holds: accepted updates and signals. (Its length as a whole
 * also grows with the reminder timers of the compressed test policy, which fire while a slow machine
 * answers the requests.)
 */
async function inputEvents(id: string): Promise<number> {
  const h = await stack.temporal.workflow.getHandle(id).fetchHistory();
  return (h.events ?? []).filter(
    (e) =>
      e.workflowExecutionUpdateAcceptedEventAttributes ||
      e.workflowExecutionUpdateCompletedEventAttributes ||
      e.workflowExecutionSignaledEventAttributes,
  ).length;
}

it('takes a deviation from detection to closure through the API, every gate signed', async () => {
  const open = newDeviationRequest({ severity: 'major', lines: ['L7'] });
  const id = await openDeviation(open);
  const lot = (open.batches as string[])[0]!;

  const contained = await waitForState(id, (s) => Boolean(s.containment.actionsCompletedAt));
  expect(contained.reportedBy).toBe(cast.qaLead.login);
  expect(contained.containment.holds).toEqual([expect.objectContaining({ lot })]);
  expect(contained.containment.preliminaryReconciliation).toHaveLength(1);
  const containment = await signGate(id, 'containment_verification', cast.qaLead, 'verified');
  expect(containment.signature).toMatchObject({ login: cast.qaLead.login, printedName: cast.qaLead.printedName, meaning: 'verified' });
  expect(containment.signature.recordHash).toMatch(/^[0-9a-f]{64}$/);
  await waitForState(id, (s) => s.stage === 'investigation');

  const inv = cast.investigator;
  await step(id, inv, 'evidence', { items: [{ kind: 'document', ref: 'BR-2026-118', title: 'Batch record', sha256: 'a'.repeat(64) }] });
  await step(id, cast.production, 'contributions', { function: 'manufacturing', summary: 'Printer restarted at 02:14' });
  await step(id, inv, 'root-cause-analyses', {
    analysis: {
      method: 'fault_tree',
      top: 'TOP',
      nodes: [
        { id: 'TOP', type: 'and', label: 'Duplicates released', children: ['B1', 'B2'] },
        { id: 'B1', type: 'basic', label: 'Print buffer replayed' },
        { id: 'B2', type: 'basic', label: 'No duplicate check before release' },
      ],
      rootCauses: ['B1'],
    },
  });
  await step(id, inv, 'risk-assessment', {
    assessment: { method: 'fmea', severity: 4, occurrence: 2, detectability: 2, rationale: 'reconciliation detects it' },
  });
  await step(id, inv, 'investigation/report', { summary: 'Buffer replay after restart', rootCause: 'Print buffer replayed' });
  await signGate(id, 'investigation_approval', cast.qaLead, 'approved', 403); // the initiator never approves
  await signGate(id, 'investigation_approval', cast.approver1, 'approved');
  await waitForState(id, (s) => s.stage === 'capa');

  await step(id, cast.capaOwner, 'capa/actions', {
    type: 'correction',
    description: 'Decommission the duplicates',
    owner: cast.production.login,
    dueDate: inDays(2),
  });
  await step(id, cast.capaOwner, 'capa/actions', {
    type: 'corrective',
    description: 'Clear print queue on restart',
    owner: cast.capaOwner.login,
    dueDate: inDays(10),
    changeControl: { kind: 'sop', description: 'Revise SOP-PKG-012' },
  });
  await signGate(id, 'capa_plan_approval', cast.approver1, 'approved');
  const implementing = await waitForState(id, (s) => s.rounds[0].changeControls.length === 1);
  expect(implementing.rounds[0].changeControls[0]).toMatchObject({ id: 'CC1', actionId: 'A2', status: 'open' });
  await step(id, cast.production, 'capa/actions/A1/complete', { evidence: '14 SGTINs decommissioned, EPCIS event captured' });
  await step(id, cast.capaOwner, 'capa/actions/A2/complete', { evidence: 'SOP-PKG-012 v5 approved' });
  await waitForState(id, (s) => s.stage === 'change_control');

  await step(id, cast.validation, 'change-controls/CC1/impact-assessment', {
    validationStatusAffected: true,
    requalificationRequired: false,
    systemsAffected: ['L3 line controller'],
    summary: 'SOP only; no code change',
  });
  const creds = (a: Actor) => ({ login: a.login, password: a.password });
  await step(id, cast.approver1, 'change-controls/CC1/approve', { ...creds(cast.approver2) }, 401); // the signer's own ID and password only
  await step(id, cast.approver1, 'change-controls/CC1/approve', creds(cast.approver1));
  await step(id, cast.approver1, 'change-controls/CC1/approve', creds(cast.approver1), 403); // dual approval: two different people
  await step(id, cast.qaHead, 'change-controls/CC1/approve', { ...creds(cast.qaHead), comment: 'Validation impact reviewed' });
  await step(id, cast.production, 'change-controls/CC1/implementation', { summary: 'Operators trained on v5' });
  const verified = await step(id, cast.approver2, 'change-controls/CC1/verify', creds(cast.approver2));
  expect(verified.verification.signature).toMatchObject({
    login: cast.approver2.login,
    printedName: cast.approver2.printedName,
    meaning: 'verified',
  });

  // The compressed policy's effectiveness delay is 2 s; with no new batches on L7 the check is inconclusive twice, then QA decides.
  await waitForState(id, (s) => s.stage === 'effectiveness_check');
  await waitForState(id, (s) => s.rounds[0].effectiveness.checks.length === 2);
  await step(id, cast.qaHead, 'effectiveness/decide', { effective: true, rationale: 'No recurrence in 3 weeks of manual review' });
  await signGate(id, 'effectiveness_verification', cast.approver1, 'verified');
  await waitForState(id, (s) => s.stage === 'closure');

  await signGate(id, 'closure_approval', cast.approver1, 'approved', 409); // the batch still needs a disposition
  await step(id, cast.approver1, 'dispositions', {
    lot,
    disposition: 'release',
    reason: 'Duplicates decommissioned; remainder reconciled',
  });
  await signGate(id, 'closure_approval', cast.approver1, 'approved');
  await signGate(id, 'closure_approval', cast.approver1, 'approved', 403); // the same person cannot fill both signatures
  await signGate(id, 'closure_approval', cast.qaHead, 'approved');
  const closed = await waitForState(id, (s) => s.stage === 'closed');
  expect(closed.transitions.map((t: { to: string }) => t.to)).toEqual([
    'detection',
    'containment',
    'investigation',
    'capa',
    'change_control',
    'effectiveness_check',
    'closure',
    'closed',
  ]);
  expect(closed.closure.approval.signature).toMatchObject({ login: cast.qaHead.login, meaning: 'approved' });

  const hold = await stack.pool.query('SELECT disposition, disposed_by FROM holds WHERE deviation_id = $1', [id]);
  expect(hold.rows).toEqual([{ disposition: 'release', disposed_by: cast.approver1.login }]);
  const ledger = await stack.pool.query('SELECT signer_login, meaning FROM signature_ledger WHERE deviation_id = $1 ORDER BY id', [id]);
  expect(ledger.rows.map((r) => `${r.meaning}:${r.signer_login}`)).toEqual([
    `verified:${cast.qaLead.login}`,
    `approved:${cast.approver1.login}`,
    `approved:${cast.approver1.login}`,
    `approved:${cast.approver1.login}`,
    `approved:${cast.qaHead.login}`,
    `verified:${cast.approver2.login}`,
    `verified:${cast.approver1.login}`,
    `approved:${cast.approver1.login}`,
    `approved:${cast.qaHead.login}`,
  ]);
  const verify = await request(stack.app).get('/signatures/verify').set(as(cast.auditor)).expect(200);
  expect(verify.body.ok).toBe(true);
  const listed = await eventually(async () => {
    const r = await request(stack.app).get('/deviations').set(as(cast.auditor)).query({ stage: 'closed', batch: lot }).expect(200);
    return r.body.items[0];
  });
  expect(listed).toMatchObject({ id, status: 'closed' });
  const cancel = await request(stack.app)
    .post(`/deviations/${id}/cancel`)
    .set(as(cast.qaLead))
    .send({ justification: 'too late', login: cast.qaLead.login, password: cast.qaLead.password });
  expect(cancel.status).toBe(409);
});

it('refuses a step in the wrong stage (409), a malformed one (400), a wrong password (401) and an auditor (403), adding no input to history', async () => {
  const id = await openDeviation(newDeviationRequest());
  await waitForState(id, (s) => Boolean(s.containment.actionsCompletedAt));
  await eventually(async () => {
    const { rows } = await stack.pool.query<{ version: number }>('SELECT version FROM deviations WHERE id = $1', [id]);
    const s = await stateOf(id);
    return rows[0]?.version === s.version ? true : undefined;
  });
  const before = await inputEvents(id);

  const wrongStage = await request(stack.app)
    .post(`/deviations/${id}/investigation/report`)
    .set(as(cast.investigator))
    .send({ summary: 's', rootCause: 'r' })
    .expect(409);
  expect(wrongStage.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(wrongStage.body.detail).toMatch(/containment/);
  await request(stack.app).post(`/deviations/${id}/capa/actions`).set(as(cast.capaOwner)).send({ type: 'magic' }).expect(400);
  await request(stack.app).post(`/deviations/${id}/evidence`).set(as(cast.auditor)).send({ items: [] }).expect(403);
  await request(stack.app)
    .post(`/deviations/DEV-2026-999999/evidence`)
    .set(as(cast.investigator))
    .send({ items: [{ kind: 'hold', ref: 'H1', title: 'x' }] })
    .expect(404);
  const task = (await request(stack.app).get('/tasks').query({ deviation: id }).set(as(cast.qaLead)).expect(200)).body.items[0];
  const wrongPassword = await request(stack.app)
    .post(`/tasks/${task.id}/sign`)
    .set(as(cast.qaLead))
    .send({ meaning: 'verified', login: cast.qaLead.login, password: 'not-my-password' })
    .expect(401);
  expect(JSON.stringify(wrongPassword.body)).not.toMatch(/password is|login is/i);
  await request(stack.app)
    .post(`/tasks/${task.id}/sign`)
    .set(as(cast.approver1))
    .send({ meaning: 'verified', login: cast.approver1.login, password: cast.approver1.password })
    .expect(403);

  expect(await inputEvents(id)).toBe(before);
  const ledger = await stack.pool.query('SELECT 1 FROM signature_ledger WHERE deviation_id = $1', [id]);
  expect(ledger.rowCount).toBe(0);
  const security = await stack.pool.query("SELECT 1 FROM security_log WHERE user_id = $1 AND event = 'signature_reauth_failed'", [
    cast.qaLead.id,
  ]);
  expect(security.rowCount).toBeGreaterThanOrEqual(1);

  await signGate(id, 'containment_verification', cast.qaLead, 'verified');
  expect(await inputEvents(id)).toBeGreaterThan(before); // the signature the refusals did not add
  const again = await sign(stack.app, cast.qaLead, task.id, 'verified');
  expect(again.status).toBe(409); // a signed task cannot be signed again
});

it('cancellation from investigation, signed, lifts the holds; the record outlives Temporal', async () => {
  const open = newDeviationRequest({ batches: [`CA${Date.now()}`, `CB${Date.now()}`] });
  const id = await openDeviation(open);
  await waitForState(id, (s) => Boolean(s.containment.actionsCompletedAt));
  await signGate(id, 'containment_verification', cast.qaLead, 'verified');
  await waitForState(id, (s) => s.stage === 'investigation');
  await request(stack.app)
    .post(`/deviations/${id}/cancel`)
    .set(as(cast.qaLead))
    .send({ justification: 'Duplicate report', login: cast.qaLead.login, password: cast.qaLead.password })
    .expect(200);
  const cancelled = await waitForState(id, (s) => s.stage === 'cancelled');
  expect(cancelled.cancellation).toMatchObject({
    fromStage: 'investigation',
    signature: { login: cast.qaLead.login, meaning: 'approved' },
  });
  const { rows } = await stack.pool.query('SELECT disposition FROM holds WHERE deviation_id = $1 ORDER BY lot', [id]);
  expect(rows).toEqual([{ disposition: 'release' }, { disposition: 'release' }]);

  // Archived, then gone from Temporal (as after retention): the deviation still answers, from the archive.
  const handle = stack.temporal.workflow.getHandle(id);
  await handle.result();
  const { runId } = await handle.describe();
  await archiveRun({ pool: stack.pool, temporal: stack.temporal }, { workflowId: id, runId });
  await stack.temporal.workflowService.deleteWorkflowExecution({
    namespace: stack.config.TEMPORAL_NAMESPACE,
    workflowExecution: { workflowId: id },
  });
  // The dev server carries out a deletion asynchronously (about half a minute).
  await eventually(async () => ((await handle.describe().catch(() => undefined)) ? undefined : true), 90_000, 1_000);
  const fromArchive = await stateOf(id);
  expect(fromArchive).toMatchObject({ id, stage: 'cancelled', cancellation: { justification: 'Duplicate report' } });
}, 240_000);

it('records a breach when containment is not confirmed in time, and accepts a late confirmation', async () => {
  const id = await openDeviation(newDeviationRequest({ severity: 'critical' }));
  const breached = await waitForState(id, (s) => s.slaBreaches.length > 0, 30_000);
  expect(breached.containment.remindersSent).toBe(2);
  const row = await eventually(async () => {
    const { rows } = await stack.pool.query('SELECT sla_breached FROM deviations WHERE id = $1', [id]);
    return rows[0]?.sla_breached ? rows[0] : undefined;
  });
  expect(row.sla_breached).toBe(true);
  await signGate(id, 'containment_verification', cast.qaLead, 'verified');
  const late = await waitForState(id, (s) => Boolean(s.containment.confirmation));
  expect(late.containment.confirmation.late).toBe(true);
  const { rows } = await stack.pool.query<{ kind: string }>(
    "SELECT kind FROM notifications WHERE deviation_id = $1 AND kind <> 'signoff_required' ORDER BY id",
    [id],
  );
  expect(rows.map((r) => r.kind)).toEqual(['containment_alert', 'containment_reminder', 'containment_reminder', 'escalation']);
});
