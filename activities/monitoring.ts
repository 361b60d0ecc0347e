import { ApplicationFailure } from '@temporalio/activity';
import type { Pool } from '../db/pool';
import { openDeviationSchema, type Severity, type Symptom } from '../domain/deviation';
import { resolvePolicy, type Policy } from '../domain/policy';
import { detectSignals, loadBatchPoint, type BatchPoint, type DetectedSignal } from '../monitoring/detection';
import { claimSignal, markDelivered, openInsteadOfLink, type ClaimedSignal, type ClaimOptions } from '../monitoring/signals';
import type { MonitoringAction, MonitoringActivities } from '../workflows/activity-contracts';
import type { DeviationInput, MonitoringSignalRecord } from '../workflows/types';

/**
 * Who a monitoring signal alerts: the team containment alerts (workflows/deviation/containment.ts),
 * QA, the packaging line, serialization systems and QA approval; they are the ones who act on it.
 */
export const MONITORING_ALERT_RECIPIENTS = ['role:qa_lead', 'role:production', 'role:it', 'role:qa_approver'];

/** Kept with each claim: the signal's record, and what a deviation opened for it says. */
interface ClaimEvidence {
  summary: string;
  record: MonitoringSignalRecord;
  title: string;
  description: string;
  source: DetectedSignal['source'];
  symptom: Symptom;
  severity: Severity;
}

function recordOf(point: BatchPoint & { line: string }, s: DetectedSignal, at: string): MonitoringSignalRecord {
  return {
    key: `${point.batchId}:${s.signal}`,
    signal: s.signal,
    kind: s.kind,
    metric: s.metric,
    line: point.line,
    gtin: point.gtin,
    lot: point.lot,
    batchId: point.batchId,
    reportId: point.reportId,
    count: s.count,
    units: s.units,
    value: s.value,
    ...(s.threshold ? { threshold: s.threshold } : {}),
    ...(s.rule ? { rule: s.rule } : {}),
    summary: s.summary,
    detectedAt: at,
  };
}

/**
 * The deviation a signal opens: what POST /deviations would start with the same content (the
 * request validated by the same schema, the policy resolved for its severity), reported by
 * monitoring, with the signal's evidence.
 */
function deviationInput(deviationId: string, evidence: ClaimEvidence, policy: Policy, at: string): DeviationInput {
  const { record } = evidence;
  const parsed = openDeviationSchema.safeParse({
    title: evidence.title,
    symptom: evidence.symptom,
    severity: evidence.severity,
    batches: [record.lot],
    description: evidence.description,
    source: evidence.source,
    lines: [record.line],
    gtins: [record.gtin],
  });
  if (!parsed.success) {
    // (no retry makes the batch's data fit; the monitor records the failure and goes on with the line)
    throw ApplicationFailure.nonRetryable(
      `a deviation for ${record.key} cannot be opened: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      'InvalidMonitoringDeviation',
    );
  }
  const { reportedBy: _reportedBy, ...request } = parsed.data;
  return {
    ...request,
    reportedBy: 'monitoring',
    id: deviationId,
    detectedAt: at,
    policy: resolvePolicy(policy, evidence.severity),
    detection: record,
  };
}

function actionOf(batchId: string, signal: string, claimed: ClaimedSignal<DeviationInput>): MonitoringAction | null {
  if (claimed.delivered) return null;
  return claimed.disposition === 'opened'
    ? { kind: 'open', batchId, signal, deviationId: claimed.deviationId, input: claimed.input }
    : { kind: 'link', batchId, signal, deviationId: claimed.deviationId, record: (claimed.evidence as ClaimEvidence).record };
}

/** The line monitors' activities, under the policy the worker runs with (the same file as the API's). */
export function createMonitoringActivities(pool: Pool, policy: Policy): MonitoringActivities {
  const claimOptions = (at: string): ClaimOptions<DeviationInput> => ({
    deviationInput: (id, evidence) => deviationInput(id, evidence as ClaimEvidence, policy, at),
    recipients: MONITORING_ALERT_RECIPIENTS,
    at,
  });
  return {
    async evaluateBatchPoint({ line, batchId, at }) {
      const point = await loadBatchPoint(pool, batchId);
      // (a batch moved to another line since is that line's monitor's)
      if (!point || point.line !== line) return { lot: null, signals: [], actions: [], recheckAt: null };
      const onLine = { ...point, line };
      const detection = await detectSignals(pool, onLine, policy, at);
      const actions: MonitoringAction[] = [];
      for (const s of detection.signals) {
        const evidence: ClaimEvidence = {
          summary: s.summary,
          record: recordOf(onLine, s, at),
          title: s.title,
          description: s.description,
          source: s.source,
          symptom: s.symptom,
          severity: s.severity,
        };
        const claimed = await claimSignal(
          pool,
          {
            batchId,
            signal: s.signal,
            line,
            gtin: point.gtin,
            lot: point.lot,
            kind: s.kind,
            metric: s.metric,
            symptom: s.symptom,
            severity: s.severity,
            reportId: point.reportId,
            summary: s.summary,
            evidence,
          },
          claimOptions(at),
        );
        const action = actionOf(batchId, s.signal, claimed);
        if (action) actions.push(action);
      }
      return { lot: point.lot, signals: detection.signals.map((s) => s.signal), actions, recheckAt: detection.recheckAt };
    },

    async markSignalDelivered({ batchId, signal }) {
      await markDelivered(pool, batchId, signal);
    },

    async openInsteadOfLink({ batchId, signal, unreachable, at }) {
      const claimed = await openInsteadOfLink(pool, { batchId, signal, unreachable }, claimOptions(at));
      if (!claimed) throw ApplicationFailure.nonRetryable(`no monitoring signal ${batchId}:${signal}`, 'UnknownMonitoringSignal');
      // (null: a retry after the new deviation was started; nothing more to do)
      return actionOf(batchId, signal, claimed);
    },
  };
}
