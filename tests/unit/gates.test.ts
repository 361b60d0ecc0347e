import {
  GATES,
  GATE_DEFINITIONS,
  signedRecord,
  signerDutyProblem,
  type GateDefinition,
  type RejectionEffects,
} from '../../workflows/deviation/gates';
import { initialState, newRound } from '../../workflows/deviation/state';
import type { DeviationState, Signature, SignoffTask } from '../../workflows/types';
import { deviationInput } from '../helpers/time-skipping';

/** The gate table's rules, as pure functions: no Temporal, no PostgreSQL. */
const at = '2026-11-23T08:00:00.000Z';
function deviation(): DeviationState {
  const state = initialState(deviationInput({ reportedBy: 'qa.lead', detectedAt: at, severity: 'major' }));
  state.rounds.push(newRound(1, at, 'containment confirmed', 86_400_000));
  return state;
}
function task(gate: SignoffTask['gate'], overrides: Partial<SignoffTask> = {}): SignoffTask {
  return {
    id: 'T9',
    gate,
    ...GATE_DEFINITIONS[gate].task,
    createdAt: at,
    dueAt: at,
    status: 'open',
    signatures: [],
    round: 1,
    ...overrides,
  };
}
const signature = (login: string, meaning: Signature['meaning'] = 'approved', signedAt = at): Signature => ({
  signerId: `id-${login}`,
  login,
  printedName: login,
  roles: ['qa_approver'],
  meaning,
  signedAt,
  recordHash: 'ab'.repeat(32),
});
const effects = (): RejectionEffects & { reopened: Array<[string, boolean]>; refused: string[] } => {
  const reopened: Array<[string, boolean]> = [];
  const refused: string[] = [];
  return {
    reopened,
    refused,
    reopen: (dueAt, chase) => void reopened.push([dueAt, chase]),
    signoffDue: () => 'DUE',
    refuseEffectiveness: (r) => void refused.push(r),
  };
};

describe('the gate table', () => {
  it('has an entry for every gate, each with a task spec the API and inbox show', () => {
    expect(Object.keys(GATE_DEFINITIONS).sort()).toEqual([...GATES].sort());
    for (const gate of GATES) expect(GATE_DEFINITIONS[gate].task.roles.length).toBeGreaterThan(0);
    expect(GATE_DEFINITIONS.closure_approval.task.signaturesRequired).toBe(2);
  });

  it('makes a missing part a compile error', () => {
    // @ts-expect-error a gate definition without its rejection effect does not type-check
    const incomplete: GateDefinition = { ...GATE_DEFINITIONS.capa_plan_approval, rejected: undefined };
    expect(incomplete.task.title).toBe('Approve the CAPA plan');
  });
});

describe('separation of duties (signerDutyProblem)', () => {
  const approver = { login: 'alex', roles: ['qa_approver'] };
  it('needs a role of the task', () => {
    expect(signerDutyProblem(deviation(), task('investigation_approval'), { login: 'ivy', roles: ['investigator'] })).toMatch(
      /needs one of the roles qa_approver, qa_head/,
    );
  });
  it('keeps the initiator from every gate but containment', () => {
    const s = deviation();
    expect(signerDutyProblem(s, task('closure_approval'), { login: 'qa.lead', roles: ['qa_approver'] })).toMatch(/initiator/);
    expect(signerDutyProblem(s, task('containment_verification'), { login: 'qa.lead', roles: ['qa_lead'] })).toBeNull();
  });
  it('lets one person fill one signature of a dual approval', () => {
    expect(signerDutyProblem(deviation(), task('closure_approval', { signatures: [signature('alex')] }), approver)).toBe(
      'a dual approval needs two different people',
    );
    expect(signerDutyProblem(deviation(), task('closure_approval', { signatures: [signature('blake')] }), approver)).toBeNull();
  });
  it('keeps the author of the report from approving it', () => {
    const s = deviation();
    s.rounds[0]!.investigation.report = { by: 'alex', at, summary: 's', rootCause: 'r' };
    expect(signerDutyProblem(s, task('investigation_approval'), approver)).toBe('the author of the report cannot approve it');
  });
  it('keeps the requester of an extension from approving it', () => {
    const s = deviation();
    s.deadlines.push({
      key: 'T3',
      label: 'x',
      dueAt: at,
      overdue: false,
      reminders: 0,
      escalated: false,
      extensions: [{ from: at, to: at, justification: 'j', requestedBy: 'alex', requestedAt: at, taskId: 'T9', status: 'pending' }],
    });
    expect(signerDutyProblem(s, task('extension_approval', { subject: 'T3' }), approver)).toBe(
      'the person who requested an extension cannot approve it',
    );
    expect(signerDutyProblem(s, task('extension_approval', { subject: 'T3' }), { login: 'blake', roles: ['qa_head'] })).toBeNull();
  });
});

describe('preconditions', () => {
  it('a CAPA plan needs an action, and a corrective one unless the deviation is minor', () => {
    const s = deviation();
    const plan = GATE_DEFINITIONS.capa_plan_approval.precondition;
    expect(plan(s, task('capa_plan_approval'))).toBe('a CAPA plan needs at least one action');
    s.rounds[0]!.capa.actions.push({
      id: 'A1',
      type: 'preventive',
      description: 'd',
      owner: 'o',
      dueAt: at,
      status: 'open',
      addedBy: 'c',
      addedAt: at,
    });
    expect(plan(s, task('capa_plan_approval'))).toMatch(/major deviation needs at least one corrective action/);
    s.severity = 'minor';
    expect(plan(s, task('capa_plan_approval'))).toBeNull();
  });
  it('closure needs a disposition for every held batch', () => {
    const s = deviation();
    s.containment.holds.push({ lot: 'LOT-1', holdId: 'H1', placedAt: at });
    expect(GATE_DEFINITIONS.closure_approval.precondition(s, task('closure_approval'))).toMatch(
      /disposition is needed for every held batch first: LOT-1/,
    );
    s.containment.holds[0]!.disposition = 'release';
    expect(GATE_DEFINITIONS.closure_approval.precondition(s, task('closure_approval'))).toBeNull();
  });
});

describe('effects', () => {
  it('containment signed after its due date stays marked late', () => {
    const s = deviation();
    const late = signature('qa.lead', 'verified', '2026-11-23T09:30:00.000Z');
    GATE_DEFINITIONS.containment_verification.signed(s, task('containment_verification'), {
      by: 'qa.lead',
      at: late.signedAt,
      signature: late,
    });
    expect(s.containment.confirmation).toMatchObject({ late: true, minutesAfterDetection: 90 });
  });
  it('an approved extension moves the due date; a rejected one leaves it', () => {
    const s = deviation();
    const later = '2026-12-24T08:00:00.000Z';
    s.deadlines.push({
      key: 'T3',
      label: 'x',
      dueAt: at,
      overdue: false,
      reminders: 0,
      escalated: false,
      extensions: [{ from: at, to: later, justification: 'j', requestedBy: 'ivy', requestedAt: at, taskId: 'T9', status: 'pending' }],
    });
    GATE_DEFINITIONS.extension_approval.rejected(
      s,
      task('extension_approval', { subject: 'T3' }),
      { signature: signature('alex', 'rejected'), reason: 'no' },
      effects(),
    );
    expect(s.deadlines[0]).toMatchObject({ dueAt: at, extensions: [{ status: 'rejected', decision: { by: 'alex', comment: 'no' } }] });
    s.deadlines[0]!.extensions![0]!.status = 'pending';
    GATE_DEFINITIONS.extension_approval.signed(s, task('extension_approval', { subject: 'T3' }), {
      by: 'alex',
      at,
      signature: signature('alex'),
    });
    expect(s.deadlines[0]).toMatchObject({ dueAt: later, extensions: [{ status: 'approved' }] });
  });
  it('a rejection sends each gate back its own way', () => {
    const s = deviation();
    s.rounds[0]!.investigation.report = { by: 'ivy', at, summary: 's', rootCause: 'r' };
    const e = effects();
    GATE_DEFINITIONS.investigation_approval.rejected(
      s,
      task('investigation_approval'),
      { signature: signature('alex', 'rejected'), reason: 'incomplete' },
      e,
    );
    expect(s.rounds[0]!.investigation).toMatchObject({ report: undefined, rejections: [{ by: 'alex', reason: 'incomplete' }] });
    expect(e.reopened).toEqual([]);
    GATE_DEFINITIONS.containment_verification.rejected(
      s,
      task('containment_verification'),
      { signature: signature('qa.other', 'rejected'), reason: 'r' },
      e,
    );
    GATE_DEFINITIONS.capa_plan_approval.rejected(
      s,
      task('capa_plan_approval'),
      { signature: signature('alex', 'rejected'), reason: 'r' },
      e,
    );
    expect(e.reopened).toEqual([
      [s.containment.dueAt, false],
      ['DUE', true],
    ]);
    GATE_DEFINITIONS.effectiveness_verification.rejected(
      s,
      task('effectiveness_verification'),
      { signature: signature('alex', 'rejected'), reason: 'weak data' },
      e,
    );
    expect(e.refused).toEqual(['weak data']);
  });
  it('binds a signature to the record of its gate, including the task identity', () => {
    const s = deviation();
    expect(signedRecord(s, task('closure_approval'))).toEqual({
      deviation: s.id,
      task: 'T9',
      gate: 'closure_approval',
      meaning: 'approved',
      title: s.title,
      severity: 'major',
      batches: s.batches,
      dispositions: [],
      rounds: 1,
      regulatory: [],
    });
  });
});
