import { setHandler } from '@temporalio/workflow';
import { humanDuration, isoAfter, nowIso } from './clocks';
import { openChangeControls } from './deviation/change-controls';
import { containmentActions, liftHolds, placeHoldsAndAlert, recordHoldBreaches, traceAndReconcile } from './deviation/containment';
import { containmentClock, watchDeadline } from './deviation/deadlines';
import { checkEffectiveness } from './deviation/effectiveness';
import { recordMonitoringSignal } from './deviation/monitoring';
import { act, DeviationCancelled, slowActivities, startDeviation, type Deviation } from './deviation/runtime';
import { signoffs } from './deviation/signoffs';
import { newRound } from './deviation/state';
import { registerSteps } from './deviation/steps';
import * as msg from './messages';
import type { DeviationInput, DeviationState } from './types';

/**
 * One deviation, from detection to closure: the workflow ID is the deviation number, and its
 * durable history is the record of who moved it, when and why. Read top to bottom, this function
 * is the lifecycle (docs/architecture.md, "The life of a deviation"); people's steps arrive as
 * Updates (deviation/steps.ts, deviation/signoffs.ts), and every gate is one entry of
 * deviation/gates.ts.
 */
export async function DeviationWorkflow(input: DeviationInput): Promise<DeviationState> {
  const d = startDeviation(input);
  const { state, policy } = d;
  const tasks = signoffs(d);
  registerSteps(d, tasks);
  setHandler(msg.getStateQuery, () => state);
  setHandler(msg.holdBreachesSignal, (notice) => recordHoldBreaches(d, notice));
  setHandler(msg.monitoringSignal, (signal) => recordMonitoringSignal(d, signal));

  try {
    // (d.holdsFirst is patched('holds-first'): deviations started before it replay the other branch.)
    if (d.holdsFirst) {
      // 1. Detection starts containment and its clock; holds and the alert before anything that can wait.
      d.moveTo('containment', 'system', 'containment clock started at detection');
      void containmentClock(d);
      await placeHoldsAndAlert(d);
      // 2. Then, beside each other on the slow task queue: possible recurrences within the policy
      //    window, trace-and-hold of what shipped, a preliminary reconciliation.
      await Promise.all([findRecurrences(d, slowActivities().support), traceAndReconcile(d)]);
    } else {
      // (deviations started before holds-first searched for recurrences first, and ran every containment action at once)
      await findRecurrences(d, act);
      d.moveTo('containment', 'system', 'containment clock started at detection');
      void containmentClock(d);
      await containmentActions(d);
    }
    // A QA lead's confirmation finishes containment.
    tasks.open('containment_verification', state.containment.dueAt, false);
    await d.waitFor(() => Boolean(state.containment.confirmation));
    const confirmation = state.containment.confirmation!;

    let reason = confirmation.late ? 'containment confirmed late (SLA breached)' : 'containment confirmed';
    let by = confirmation.by;
    for (let number = 1; ; number++) {
      // 3. Investigation: evidence, contributions, root cause and risk, a report approved by QA.
      const round = newRound(number, nowIso(), reason, policy.investigationDueMs);
      state.rounds.push(round);
      d.moveTo('investigation', by, number === 1 ? reason : `round ${number}: ${reason}`);
      void watchDeadline(
        d,
        { key: `r${number}:investigation`, label: `Investigation report (round ${number})`, dueAt: round.investigation.dueAt },
        () => Boolean(round.investigation.approval),
        ['role:investigator', 'role:qa_lead'],
      );
      await d.waitFor(() => Boolean(round.investigation.approval));

      // 4. CAPA: plan, approval, implementation (change control may run beside it).
      d.moveTo('capa', round.investigation.approval!.by, 'root cause confirmed; investigation report approved');
      round.capa.planDueAt = isoAfter(nowIso(), policy.capaPlanDueMs);
      tasks.open('capa_plan_approval', round.capa.planDueAt);
      await d.waitFor(() => Boolean(round.capa.planApproval));
      await openChangeControls(d, round);
      for (const action of round.capa.actions) {
        void watchDeadline(
          d,
          { key: `${action.id}`, label: `CAPA action ${action.id}`, dueAt: action.dueAt },
          () => action.status !== 'open',
          [action.owner, 'role:capa_owner'],
        );
      }
      await d.waitFor(() => round.capa.actions.every((a) => a.status !== 'open'));
      round.capa.completedAt = nowIso();
      d.changed();

      // 5. Change control closes before the effectiveness check starts.
      if (round.changeControls.some((c) => c.status === 'open')) {
        d.moveTo('change_control', 'system', 'CAPA actions complete; change control still open');
        await d.waitFor(() => round.changeControls.every((c) => c.status === 'closed'));
      }

      // 6. Effectiveness check after the policy's delay, on data; not effective: a new round.
      d.moveTo(
        'effectiveness_check',
        'system',
        `CAPA complete; effectiveness check scheduled in ${humanDuration(policy.effectivenessDelayMs)}`,
      );
      if (!(await checkEffectiveness(d, round))) {
        reason = 'effectiveness check not met; investigation reopened';
        by = 'system';
        await d.notify(
          `r${number}:effectiveness:not-met`,
          'effectiveness_not_met',
          ['role:qa_lead', 'role:investigator'],
          `Effectiveness check of ${state.id} not met: investigation reopened`,
        );
        continue;
      }
      d.flags.effectivenessRejected = null;
      tasks.open('effectiveness_verification', tasks.due());
      await d.waitFor(() => Boolean(round.effectiveness.verification) || d.flags.effectivenessRejected !== null);
      if (d.flags.effectivenessRejected !== null) {
        reason = `effectiveness verification rejected: ${d.flags.effectivenessRejected}`;
        by = 'system';
        continue;
      }
      break;
    }

    // 7. Closure: a disposition for every held batch, then QA's final (dual) approval.
    d.moveTo('closure', d.currentRound()!.effectiveness.verification!.by, 'effectiveness verified');
    tasks.open('closure_approval', tasks.due());
    await d.waitFor(() => Boolean(state.closure.approval));
    d.moveTo('closed', state.closure.approval!.by, 'closure approved');
  } catch (err) {
    if (!(err instanceof DeviationCancelled)) throw err;
    const cancellation = state.cancellation!;
    await liftHolds(d);
    d.moveTo('cancelled', cancellation.by, `cancelled: ${cancellation.justification}`);
    await d.notify(
      'cancelled',
      'deviation_cancelled',
      ['role:qa_lead', 'role:production'],
      `Deviation ${state.id} cancelled; holds lifted`,
      { justification: cancellation.justification },
    );
  }

  // The record is complete once the read model has the final version.
  await d.published();
  return state;
}

/** Earlier deviations on the same line, product or symptom within the policy's recurrence window. */
async function findRecurrences(d: Deviation, support: Pick<typeof act, 'findRecurrences'>): Promise<void> {
  const { state, policy } = d;
  state.recurrences = await support.findRecurrences({
    deviationId: state.id,
    symptom: state.symptom,
    lines: state.lines,
    gtins: state.gtins,
    lots: state.batches,
    since: new Date(Date.parse(state.detectedAt) - policy.recurrenceWindowMs).toISOString(),
  });
  d.changed();
}
