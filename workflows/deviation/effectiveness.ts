import { condition, patched } from '@temporalio/workflow';
import { isoAfter, nowIso } from '../clocks';
import type { InvestigationRound } from '../types';
import { DeviationCancelled, slowActivities, type Deviation } from './runtime';

/**
 * The effectiveness check of one round: after the policy's delay, evaluated on the data of the
 * batches made since CAPA completion; inconclusive too often, QA decides. True when effective.
 */
export async function checkEffectiveness(d: Deviation, round: InvestigationRound): Promise<boolean> {
  const { state, policy } = d;
  for (let attempt = 0; ; attempt++) {
    round.effectiveness.scheduledFor = isoAfter(nowIso(), policy.effectivenessDelayMs);
    d.changed();
    if (await condition(d.cancelled, policy.effectivenessDelayMs)) throw new DeviationCancelled();
    // (on the slow task queue for every deviation: the queue is no part of the command replay compares)
    const result = await slowActivities().support.evaluateEffectiveness({
      deviationId: state.id,
      round: round.number,
      lines: state.lines,
      lots: state.batches,
      since: round.capa.completedAt!,
      criteria: policy.effectivenessCriteria,
    });
    round.effectiveness.checks.push(result);
    d.changed();
    if (result.verdict !== 'inconclusive') return result.verdict === 'effective';
    if (attempt + 1 > policy.effectivenessCriteria.maxInconclusiveRounds) {
      d.flags.awaitingEffectivenessDecision = true;
      // Publishing the flag adds a read-model write: deviations already waiting here replay without it.
      if (patched('effectiveness-decision-flag')) {
        round.effectiveness.decisionRequired = true;
        d.changed();
      }
      await d.notify(
        `r${round.number}:effectiveness:decision`,
        'decision_required',
        ['role:qa_approver', 'role:qa_head'],
        `Effectiveness of ${state.id} could not be evaluated on data: QA decision needed`,
      );
      await d.waitFor(() => Boolean(round.effectiveness.decision));
      d.flags.awaitingEffectivenessDecision = false;
      round.effectiveness.decisionRequired = false;
      return round.effectiveness.decision!.effective;
    }
  }
}
