import { condition, proxyActivities, setHandler } from '@temporalio/workflow';
import type * as activities from '../activities/types';
import { getStateQuery } from './messages';
import type { DeviationInput, DeviationSnapshot, DeviationState, Stage } from './types';

const readModel = proxyActivities<activities.ReadModelActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumInterval: '30 seconds' },
});

/**
 * One deviation, from detection to closure. The workflow ID is the deviation number; its
 * durable history is the record of who moved it, when and why.
 */
export async function DeviationWorkflow(input: DeviationInput): Promise<DeviationState> {
  const state: DeviationState = {
    id: input.id,
    title: input.title,
    symptom: input.symptom,
    severity: input.severity,
    source: input.source,
    batches: input.batches,
    lines: input.lines,
    gtins: input.gtins,
    description: input.description,
    reportedBy: input.reportedBy,
    detectedAt: input.detectedAt,
    stage: 'detection',
    transitions: [{ from: null, to: 'detection', at: input.detectedAt, by: input.reportedBy, reason: 'deviation opened' }],
    version: 1,
  };
  setHandler(getStateQuery, () => state);

  async function publish(): Promise<void> {
    await readModel.recordDeviationSnapshot(snapshotOf(state));
  }

  function moveTo(to: Stage, by: string, reason: string): void {
    state.transitions.push({ from: state.stage, to, at: new Date().toISOString(), by, reason });
    state.stage = to;
    state.version += 1;
  }

  await publish();
  moveTo('containment', 'system', 'containment clock started at detection');
  await publish();

  // The lifecycle beyond detection grows here; until then the deviation waits in containment.
  await condition(() => state.stage !== 'containment');
  return state;
}

function snapshotOf(state: DeviationState): DeviationSnapshot {
  const last = state.transitions[state.transitions.length - 1];
  return {
    id: state.id,
    title: state.title,
    symptom: state.symptom,
    severity: state.severity,
    stage: state.stage,
    status: state.stage === 'closed' ? 'closed' : state.stage === 'cancelled' ? 'cancelled' : 'open',
    batches: state.batches,
    reportedBy: state.reportedBy,
    detectedAt: state.detectedAt,
    updatedAt: last?.at ?? state.detectedAt,
    version: state.version,
    slaBreached: false,
    nextDueAt: null,
    summary: {},
  };
}
