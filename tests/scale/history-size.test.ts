import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { createPool, type Pool } from '../../db/pool';
import { SEVERITIES, type Severity } from '../../domain/deviation';
import { overdueRemindersWithin } from '../../domain/overdue-reminders';
import * as msg from '../../workflows/messages';
import type { DeviationState, EffectivenessResult, Gate, Signature } from '../../workflows/types';
import { signatureOf } from '../helpers/actors';
import { eventually } from '../helpers/eventually';
import { createUser, type TestUser } from '../helpers/users';
import { createTestWorker, createTimeSkippingEnv, deviationInput, serverNow, workflowTestActivities } from '../helpers/time-skipping';

/**
 * A deviation's history is one Temporal workflow execution, and Temporal terminates an execution
 * whose history passes 51,200 events or 50 MB (it warns from 10,240 events or 10 MB). The deviation
 * does not continue-as-new: its history is the audit evidence, one record from detection to
 * closure. So the longest deviation the production policy realistically produces must stay well
 * below those limits: under a tenth of them (5,120 events, 5 MB), docs/scale.md says where the
 * events go.
 */
const EVENT_LIMIT = 51_200;
const BYTE_LIMIT = 50 * 1024 * 1024;
const EVENT_BUDGET = EVENT_LIMIT / 10;
const BYTE_BUDGET = BYTE_LIMIT / 10;

/**
 * The suite runs the minor policy. `HISTORY_SIZE_SEVERITY=major` (or `critical`) runs the same
 * deviation under a policy that chases daily or every other day until the escalation, for
 * docs/scale.md, against the same budget.
 */
const SEVERITY = (process.env.HISTORY_SIZE_SEVERITY ?? 'minor') as Severity;
if (!SEVERITIES.includes(SEVERITY)) throw new Error(`HISTORY_SIZE_SEVERITY: one of ${SEVERITIES.join(', ')}`);

const DAY_MS = 86_400_000;
const SIX_MONTHS_DAYS = 182;
const ACTIONS_CHASED = 10;

/** A wait that fails does so within a minute (the whole run takes seconds) and says where the run stood. */
const WAIT_MS = 60_000;

async function explained<T>(handle: WorkflowHandle, wait: Promise<T>): Promise<T> {
  try {
    return await wait;
  } catch (err) {
    throw new Error(`${String(err)}\n${await whereItStands(handle)}`);
  }
}

/** The handle, whose updates fail after WAIT_MS, explained, rather than waiting for ever. */
function bounded<H extends WorkflowHandle>(handle: H): H {
  return new Proxy(handle, {
    get(target, prop, receiver) {
      if (prop !== 'executeUpdate') return Reflect.get(target, prop, receiver);
      const executeUpdate = target.executeUpdate.bind(target) as (...args: unknown[]) => Promise<unknown>;
      return async (...args: unknown[]) => {
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`update not answered within ${WAIT_MS} ms`)), WAIT_MS);
        });
        try {
          return await explained(target, Promise.race([executeUpdate(...args), timedOut]));
        } finally {
          clearTimeout(timer);
        }
      };
    },
  });
}

/** The pending work and the last events of a run, for the message of a wait that timed out. */
async function whereItStands(handle: WorkflowHandle): Promise<string> {
  try {
    const { raw } = await handle.describe();
    const history = await handle.fetchHistory();
    const last = (history.events ?? []).slice(-8).map((e) => {
      const type = temporal.api.enums.v1.EventType[e.eventType ?? 0] ?? String(e.eventType);
      const failure = e.workflowTaskFailedEventAttributes?.failure?.message;
      return `  ${e.eventId} ${type}${failure ? `: ${failure}` : ''}`;
    });
    return [
      `pending workflow task: ${raw.pendingWorkflowTask ? JSON.stringify(raw.pendingWorkflowTask.state) : 'none'}`,
      `pending activities: ${(raw.pendingActivities ?? []).map((a) => `${a.activityType?.name} (attempt ${a.attempt})`).join(', ') || 'none'}`,
      `last events:`,
      ...last,
    ].join('\n');
  } catch (err) {
    return `(the run could not be described: ${String(err)})`;
  }
}

let env: TestWorkflowEnvironment;
let pool: Pool;
let people: Record<'qaLead' | 'approver' | 'approver2' | 'qaHead' | 'validation' | 'validation2', TestUser>;
beforeAll(async () => {
  pool = createPool(process.env.DATABASE_URL!, 4);
  env = await createTimeSkippingEnv();
  people = {
    qaLead: await createUser(pool, { roles: ['qa_lead'] }),
    approver: await createUser(pool, { roles: ['qa_approver'] }),
    approver2: await createUser(pool, { roles: ['qa_approver'] }),
    qaHead: await createUser(pool, { roles: ['qa_head'] }),
    validation: await createUser(pool, { roles: ['validation'] }),
    validation2: await createUser(pool, { roles: ['validation'] }),
  };
});
afterAll(async () => {
  await env?.teardown();
  await pool?.end();
});

interface HistoryFigures {
  events: number;
  bytes: number;
  /** Events by type, for reading where the events go. */
  byType: Record<string, number>;
}

/** Events and encoded bytes of a workflow's history, as Temporal hands it out (and stores it, give or take framing). */
async function historyFigures(workflowId: string): Promise<HistoryFigures> {
  // The test server answers with the whole history in one message, which may pass gRPC's default 4 MB.
  const connection = await Connection.connect({
    address: env.address,
    channelArgs: { 'grpc.max_receive_message_length': 2 * BYTE_LIMIT },
  });
  const history = await new Client({ connection, namespace: env.client.options.namespace }).workflow
    .getHandle(workflowId)
    .fetchHistory()
    .finally(() => connection.close());
  const bytes = temporal.api.history.v1.History.encode(temporal.api.history.v1.History.create(history)).finish().length;
  const byType: Record<string, number> = {};
  for (const event of history.events ?? []) {
    const type = temporal.api.enums.v1.EventType[event.eventType ?? 0] ?? String(event.eventType);
    byType[type] = (byType[type] ?? 0) + 1;
    const activity = event.activityTaskScheduledEventAttributes?.activityType?.name;
    if (activity) byType[`activity ${activity}`] = (byType[`activity ${activity}`] ?? 0) + 1;
  }
  return { events: history.events?.length ?? 0, bytes, byType };
}

/**
 * Drives one deviation through everything that makes a history long, under the production policy
 * for `severity` (its overdue reminder interval decides how often the open actions are chased):
 * containment breached and confirmed late; three investigation rounds (the first report rejected
 * and written again, the first round's CAPA plan rejected and reworked, round 1 not effective on
 * data, round 2's verification rejected by QA, round 3 inconclusive four times and decided by QA);
 * ten CAPA actions each left overdue for six months and chased at every reminder; three change
 * controls overdue and chased too; closure rejected once, then signed by two people.
 */
async function longestDeviation(
  severity: Severity,
): Promise<{ id: string; final: DeviationState; deviation: HistoryFigures; changeControls: HistoryFigures[] }> {
  const checks = new Map<number, number>();
  const { worker, taskQueue } = await createTestWorker(
    env,
    workflowTestActivities(pool, {
      // Round 1: duplicates again on the line; round 2: clean (QA rejects the verification); round 3: too few batches, every time.
      evaluateEffectiveness: async (input): Promise<EffectivenessResult> => {
        checks.set(input.round, (checks.get(input.round) ?? 0) + 1);
        const verdict = input.round === 1 ? 'not_effective' : input.round === 2 ? 'effective' : 'inconclusive';
        return {
          verdict,
          evaluatedAt: new Date().toISOString(),
          since: input.since,
          batchesEvaluated: verdict === 'inconclusive' ? 1 : 4,
          duplicateSerials: verdict === 'not_effective' ? 3 : 0,
          aggregationErrorRate: 0,
          reportIds: verdict === 'inconclusive' ? ['R-L3-0001'] : ['R-L3-0001', 'R-L3-0002', 'R-L3-0003', 'R-L3-0004'],
          reasons: [
            verdict === 'inconclusive'
              ? '1 batch(es) since CAPA completion; 3 needed'
              : `4 batch(es) evaluated: ${verdict.replace('_', ' ')}`,
          ],
        };
      },
    }),
  );
  const tag = String(Date.now()).slice(-6);
  const input = deviationInput({
    detectedAt: await serverNow(env),
    reportedBy: people.qaLead.login,
    severity,
    batches: [`LOT-${tag}-A`, `LOT-${tag}-B`, `LOT-${tag}-C`],
    lines: ['L3'],
  });
  const at = async () => new Date(await env.currentTimeMs()).toISOString();
  const inDays = async (days: number) => serverNow(env, days * DAY_MS);

  return worker.runUntil(async () => {
    const handle = bounded(await env.client.workflow.start('DeviationWorkflow', { workflowId: input.id, taskQueue, args: [input] }));
    const until = (done: (s: DeviationState) => boolean) =>
      explained(
        handle,
        eventually(async () => {
          const s = await handle.query(msg.getStateQuery);
          return done(s) ? s : undefined;
        }, WAIT_MS),
      );
    /**
     * The time-skipping test server strands a run whose workflow task cancels a timer that fired while
     * the task was with the worker (it refuses the completion, "invalid history builder state for
     * action", and never hands the task out again; the real server does not). On a loaded machine a
     * task slow with its local activities met that after a skip. So a skip starts and ends with the
     * deviation settled: no workflow task or activity pending.
     */
    const settled = () =>
      explained(
        handle,
        eventually(async () => {
          const { raw } = await handle.describe();
          return !raw.pendingWorkflowTask && !(raw.pendingActivities ?? []).length ? true : undefined;
        }, WAIT_MS),
      );
    const skip = async (duration: string | number) => {
      await settled();
      await env.sleep(duration);
      await settled();
    };
    /**
     * Whole days plus half a day. A reminder is re-armed from the time its workflow task ran, a few
     * milliseconds after the timer fired, so after weeks of weekly (or daily) reminders a chain lands
     * a second or so after a skip of whole days: it then fires in real time while the next update
     * cancels it, which is the strand above. Half a day keeps every day-scale chain far from the end.
     */
    const skipDays = (days: number) => skip(days * DAY_MS + DAY_MS / 2);
    const openTask = async (gate: Gate) => {
      const s = await until((st) => st.tasks.some((t) => t.gate === gate && t.status === 'open'));
      return s.tasks.find((t) => t.gate === gate && t.status === 'open')!;
    };
    const sign = async (gate: Gate, signer: TestUser, meaning: Signature['meaning']) => {
      const task = await openTask(gate);
      await handle.executeUpdate(msg.signTask, {
        args: [{ by: signer.login, taskId: task.id, signature: signatureOf(signer, meaning, await at()) }],
      });
    };
    const reject = async (gate: Gate, signer: TestUser, reason: string) => {
      const task = await openTask(gate);
      await handle.executeUpdate(msg.rejectTask, {
        args: [{ by: signer.login, taskId: task.id, reason, signature: signatureOf(signer, 'rejected', await at()) }],
      });
    };

    // Containment: nobody confirms within the hour; every reminder, the escalation, then a late confirmation.
    await until((s) => Boolean(s.containment.actionsCompletedAt));
    await skip('90 minutes');
    await sign('containment_verification', people.qaLead, 'verified');
    const contained = await until((s) => s.stage === 'investigation');
    expect(contained.containment.confirmation!.late).toBe(true);
    expect(contained.slaBreaches.map((b) => b.clock)).toEqual(['containment']);

    for (const round of [1, 2, 3]) {
      await investigate(handle, round, { late: round === 1, rejectFirstReport: round === 1 });
      await sign('investigation_approval', people.approver, 'approved');
      await until((s) => s.stage === 'capa');

      if (round === 1) {
        // Ten actions, due a few days apart; three of them change an SOP, equipment or a system.
        const kinds = ['sop', 'equipment', 'computerized_system'] as const;
        for (let n = 0; n < ACTIONS_CHASED; n++) {
          await handle.executeUpdate(msg.addCapaAction, {
            args: [
              {
                by: 'capa.owner',
                type: n === 0 ? 'corrective' : n % 2 ? 'preventive' : 'corrective',
                description: `Action ${n + 1} of the plan: ${ACTION_TEXT}`,
                owner: `owner.${n + 1}`,
                dueDate: await inDays(14 + 3 * n),
                ...(n < kinds.length ? { changeControl: { kind: kinds[n]!, description: `Change ${n + 1}: ${CHANGE_TEXT}` } } : {}),
              },
            ],
          });
        }
        await reject('capa_plan_approval', people.approver, 'Action owners must be named people, not functions; due dates too optimistic');
        await sign('capa_plan_approval', people.approver, 'approved');
        // Nobody does anything for six months after the last due date: every action, change control and clock is chased.
        await skipDays(14 + 3 * (ACTIONS_CHASED - 1) + SIX_MONTHS_DAYS + 1);
        // (the test server's clock is there; the worker may still be working through the reminders it fired)
        const { overdueReminderIntervalMs, escalatedReminderIntervalMs } = input.policy;
        const remindersDue = overdueRemindersWithin(SIX_MONTHS_DAYS * DAY_MS, overdueReminderIntervalMs, escalatedReminderIntervalMs);
        const chased = await until((s) =>
          s.rounds[0]!.capa.actions.every((a) => (s.deadlines.find((d) => d.key === a.id)?.reminders ?? 0) >= remindersDue),
        );
        for (const action of chased.rounds[0]!.capa.actions) {
          expect(chased.deadlines.find((d) => d.key === action.id)).toMatchObject({ overdue: true, escalated: true });
        }
        for (const cc of ['CC1', 'CC2', 'CC3']) await runChangeControl(`${input.id}-${cc}`);
        for (let n = 1; n <= ACTIONS_CHASED; n++) {
          await handle.executeUpdate(msg.completeCapaAction, {
            args: [{ by: `owner.${n}`, actionId: `A${n}`, evidence: `Done: ${EVIDENCE_TEXT}`, evidenceRefs: [`DOC-${n}`, `TRN-${n}`] }],
          });
        }
      } else {
        const id = `A${ACTIONS_CHASED + round - 1}`;
        await handle.executeUpdate(msg.addCapaAction, {
          args: [
            {
              by: 'capa.owner',
              type: 'corrective',
              description: `Round ${round}: ${ACTION_TEXT}`,
              owner: 'capa.owner',
              dueDate: await inDays(20),
            },
          ],
        });
        await sign('capa_plan_approval', people.approver2, 'approved');
        await skipDays(10);
        await handle.executeUpdate(msg.completeCapaAction, { args: [{ by: 'capa.owner', actionId: id, evidence: EVIDENCE_TEXT }] });
      }

      await until((s) => s.stage === 'effectiveness_check');
      if (round === 1) {
        await skipDays(input.policy.effectivenessDelayMs / DAY_MS + 1);
        await until((s) => s.rounds.length === 2);
      } else if (round === 2) {
        await skipDays(input.policy.effectivenessDelayMs / DAY_MS + 1);
        await reject('effectiveness_verification', people.qaHead, 'Four batches are too few to call it effective: one more round');
        await until((s) => s.rounds.length === 3);
      } else {
        const inconclusive = input.policy.effectivenessCriteria.maxInconclusiveRounds + 1;
        await skipDays((inconclusive * input.policy.effectivenessDelayMs) / DAY_MS + 1);
        await until((s) => Boolean(s.rounds[2]!.effectiveness.decisionRequired));
        await handle.executeUpdate(msg.decideEffectiveness, {
          args: [{ by: people.qaHead.login, effective: true, rationale: 'No recurrence in twelve months of production on line 3' }],
        });
        await sign('effectiveness_verification', people.approver, 'verified');
      }
    }

    await until((s) => s.stage === 'closure');
    for (const lot of input.batches) {
      await handle.executeUpdate(msg.recordDisposition, {
        args: [{ by: people.approver.login, lot, disposition: 'release', reason: 'Reconciled clean; duplicates decommissioned' }],
      });
    }
    await reject('closure_approval', people.approver2, 'The closure summary omits the second round');
    await sign('closure_approval', people.approver2, 'approved');
    await sign('closure_approval', people.qaHead, 'approved');
    const final = (await handle.result()) as DeviationState;

    expect(final.stage).toBe('closed');
    expect(final.rounds).toHaveLength(3);
    expect(Object.fromEntries(checks)).toEqual({ 1: 1, 2: 1, 3: input.policy.effectivenessCriteria.maxInconclusiveRounds + 1 });
    return {
      id: input.id,
      final,
      deviation: await historyFigures(input.id),
      changeControls: await Promise.all(['CC1', 'CC2', 'CC3'].map((cc) => historyFigures(`${input.id}-${cc}`))),
    };

    async function investigate(h: WorkflowHandle, round: number, opts: { late: boolean; rejectFirstReport: boolean }) {
      await h.executeUpdate(msg.addEvidence, {
        args: [
          {
            by: 'inv.smith',
            items: [
              { kind: 'reconciliation_report', ref: `R-${round}-1`, title: 'Preliminary reconciliation of the held lots' },
              { kind: 'epcis_document', ref: `EPCIS-${round}-7`, title: 'Commissioning events of the night shift' },
              { kind: 'batch_record', ref: `BR-${round}-42`, title: 'Batch record, packaging section' },
              { kind: 'document', ref: `LOG-${round}-3`, title: 'Printer controller log export', sha256: 'cd'.repeat(32) },
            ],
          },
        ],
      });
      for (const fn of ['manufacturing', 'it', 'validation'] as const) {
        await h.executeUpdate(msg.addContribution, { args: [{ by: `${fn}.lead`, function: fn, summary: `${fn}: ${CONTRIBUTION_TEXT}` }] });
      }
      await h.executeUpdate(msg.recordRootCauseAnalysis, {
        args: [
          {
            by: 'inv.smith',
            analysis: {
              method: 'five_why',
              problem: 'Serials commissioned twice on line 3',
              whys: [
                { question: 'Why were serials commissioned twice?', answer: 'The printer replayed its buffer after a restart' },
                { question: 'Why did it replay?', answer: 'The print queue was not cleared on restart' },
                { question: 'Why was it not cleared?', answer: 'SOP-PKG-012 omits the step' },
                { question: 'Why does the SOP omit it?', answer: 'The SOP predates the printer firmware in use' },
                { question: 'Why was the SOP not revised?', answer: 'Firmware changes did not trigger an SOP review' },
              ],
              rootCause: `Round ${round}: firmware changes are not reviewed for their effect on packaging SOPs`,
            },
          },
        ],
      });
      await h.executeUpdate(msg.recordRiskAssessment, {
        args: [
          {
            by: 'inv.smith',
            assessment: {
              method: 'fmea',
              severity: 4,
              occurrence: 3,
              detectability: 2,
              rationale: 'caught at reconciliation before release',
            },
          },
        ],
      });
      // Round 1's report is written two weeks after its due date: the investigation clock is overdue and chased.
      if (opts.late) await skipDays(input.policy.investigationDueMs / DAY_MS + 14);
      await h.executeUpdate(msg.submitInvestigationReport, { args: [{ by: 'inv.smith', summary: REPORT_TEXT, rootCause: 'SOP gap' }] });
      if (opts.rejectFirstReport) {
        await reject('investigation_approval', people.approver, 'The report does not say why the second printer is unaffected');
        await h.executeUpdate(msg.submitInvestigationReport, {
          args: [{ by: 'inv.smith', summary: `${REPORT_TEXT} Printer 2 runs older firmware.`, rootCause: 'SOP gap' }],
        });
      }
    }

    async function runChangeControl(workflowId: string) {
      const cc = bounded(env.client.workflow.getHandle(workflowId));
      await cc.executeUpdate(msg.recordImpactAssessment, {
        args: [
          {
            by: people.validation.login,
            validationStatusAffected: true,
            requalificationRequired: false,
            systemsAffected: ['L3 line controller', 'Printer 1'],
            summary: 'Validated state affected: a change to the line controller configuration',
          },
        ],
      });
      for (const approver of [people.approver, people.qaHead]) {
        await cc.executeUpdate(msg.approveChangeControl, {
          args: [{ by: approver.login, signature: signatureOf(approver, 'approved', await at()) }],
        });
      }
      await cc.executeUpdate(msg.recordImplementation, { args: [{ by: 'prod.jones', summary: 'Implemented and operators trained' }] });
      await cc.executeUpdate(msg.verifyChangeControl, {
        args: [{ by: people.validation2.login, signature: signatureOf(people.validation2, 'verified', await at()) }],
      });
    }
  });
}

const ACTION_TEXT =
  'Revise SOP-PKG-012 so that the print queue is cleared and verified empty after every printer restart, ' +
  'with a line-clearance check recorded in the batch record before commissioning resumes.';
const CHANGE_TEXT = 'Revision of the packaging procedure and the line controller configuration, re-qualification assessed by validation.';
const EVIDENCE_TEXT = 'SOP-PKG-012 v5 approved and effective; operators of all three shifts trained (training records TR-2291 to TR-2317).';
const CONTRIBUTION_TEXT =
  'Reviewed the shift logs, the printer controller export and the line controller audit trail for the night of the event; ' +
  'findings attached as evidence and consistent with a buffer replay after the restart at 02:14.';
const REPORT_TEXT =
  'On the night shift the printer on line 3 restarted at 02:14 and replayed its buffer, commissioning 14 SGTINs twice. ' +
  'Reconciliation found the duplicates before release; all affected units were decommissioned and the lots held.';

it(`the longest realistic deviation (${SEVERITY} policy) keeps its history far from Temporal's limits`, async () => {
  const { id, final, deviation, changeControls } = await longestDeviation(SEVERITY);
  report(id, SEVERITY, deviation, changeControls, final);
  for (const history of [deviation, ...changeControls]) {
    expect(history.events).toBeLessThan(EVENT_BUDGET);
    expect(history.bytes).toBeLessThan(BYTE_BUDGET);
  }
}, 600_000);

function report(id: string, severity: Severity, deviation: HistoryFigures, changeControls: HistoryFigures[], final: DeviationState): void {
  const reminders = final.deadlines.reduce((n, d) => n + d.reminders, 0);
  const pct = (v: number, limit: number) => `${((100 * v) / limit).toFixed(1)} %`;
  process.stdout.write(
    `[history] ${severity} ${id}: ${deviation.events} events (${pct(deviation.events, EVENT_LIMIT)} of ${EVENT_LIMIT}), ` +
      `${(deviation.bytes / 1024).toFixed(0)} KiB (${pct(deviation.bytes, BYTE_LIMIT)} of 50 MiB); ` +
      `${final.deadlines.length} clocks, ${reminders} reminders counted on them, ${final.tasks.length} sign-off tasks, ${final.version} versions; ` +
      `change controls: ${changeControls.map((c) => `${c.events} events / ${(c.bytes / 1024).toFixed(0)} KiB`).join(', ')}\n` +
      `[history] by type: ${Object.entries(deviation.byType)
        .sort((a, b) => b[1] - a[1])
        .map(([type, n]) => `${type.replace('EVENT_TYPE_', '')} ${n}`)
        .join(', ')}\n`,
  );
}
