import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createHoldActivities } from '../../activities/holds';
import { createNotificationActivities } from '../../activities/notifications';
import { createReadModelActivities } from '../../activities/read-model';
import { findRecurrences } from '../../activities/recurrence';
import { createSignatureActivities } from '../../activities/signatures';
import type { AllActivities } from '../../workflows/activity-contracts';
import type { Pool } from '../../db/pool';
import { PRODUCTION_POLICY, resolvePolicy, type Policy } from '../../domain/policy';
import { slowTaskQueueOf } from '../../workflows/task-queues';
import type { DeviationInput } from '../../workflows/types';
import type { ReconciliationSummary } from '../../domain/reconciliation-summary';
import { quietTemporalRuntime, workflowBundle } from './bundle';

/** The SDK's time-skipping test server, from the binary scripts/prepare.mjs installed. */
export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  quietTemporalRuntime();
  const path = process.env.TEMPORAL_TEST_SERVER;
  if (!path) throw new Error('TEMPORAL_TEST_SERVER is not set (scripts/prepare.mjs installs it)');
  return TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path } } });
}

export function emptyReconciliation(lot: string): ReconciliationSummary {
  return {
    reportId: `R-${lot}`,
    contentHash: '0'.repeat(64),
    lot,
    gtin: null,
    generatedAt: new Date().toISOString(),
    balance: { commissioned: 0, packed: 0, rejected: 0, sampled: 0, destroyed: 0, unaccounted: 0 },
    discrepancies: { duplicate_serial: 0, aggregation_error: 0, missing_report: 0, lost_packaging: 0, unaccounted: 0 },
    unknownBatch: true,
  };
}

/**
 * Activities for workflow tests: the real PostgreSQL-backed holds, outbox, read model and recurrence
 * search; the serialization-data activities (trace, reconciliation, effectiveness) are replaced
 * where a test needs to steer the verdict — the end-to-end suites run them for real.
 */
export function workflowTestActivities(pool: Pool, overrides: Partial<AllActivities> = {}): AllActivities {
  return {
    ...createReadModelActivities(pool),
    ...createHoldActivities(pool),
    ...createNotificationActivities(pool),
    ...createSignatureActivities(pool),
    findRecurrences: (input) => findRecurrences(pool, input),
    traceShipments: async () => ({ shipments: 0, ssccs: [], serials: 0, truncated: false }),
    reconcileBatch: async ({ lot }) => emptyReconciliation(lot),
    evaluateEffectiveness: async (input) => ({
      verdict: 'effective',
      evaluatedAt: new Date().toISOString(),
      since: input.since,
      batchesEvaluated: 3,
      duplicateSerials: 0,
      aggregationErrorRate: 0,
      reportIds: [],
      reasons: ['3 batch(es) within limits'],
    }),
    ...overrides,
  };
}

/**
 * The deviation task queue's Worker and the slow queue's (workflows/task-queues.ts), both with the
 * test's activities, run together by `worker.runUntil`.
 */
export async function createTestWorker(
  env: TestWorkflowEnvironment,
  activities: AllActivities,
): Promise<{ worker: Pick<Worker, 'runUntil'>; taskQueue: string }> {
  const taskQueue = `ts-${randomUUID()}`;
  const [main, slow] = await Promise.all([
    Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: workflowBundle(), activities }),
    Worker.create({ connection: env.nativeConnection, taskQueue: slowTaskQueueOf(taskQueue), activities }),
  ]);
  return { worker: { runUntil: (fn) => slow.runUntil(() => main.runUntil(fn)) }, taskQueue };
}

let counter = 0;
export function deviationInput(overrides: Partial<DeviationInput> = {}, policy: Policy = PRODUCTION_POLICY): DeviationInput {
  counter += 1;
  const severity = overrides.severity ?? 'major';
  const tag = `${process.pid}${String(Date.now()).slice(-5)}${counter}`;
  return {
    id: `DEV-2026-9${tag}`,
    detectedAt: new Date().toISOString(),
    title: 'Duplicate SGTINs in the night-shift aggregation report',
    symptom: 'duplicate_serials',
    severity,
    batches: [`TS${tag}`],
    description: '14 SGTINs commissioned twice on line 3',
    reportedBy: 'qa.lead',
    source: 'manual',
    lines: ['L3'],
    gtins: [],
    policy: resolvePolicy(policy, severity),
    ...overrides,
  };
}

/** The test server's own clock, which earlier tests have moved forward, as an ISO instant. */
export async function serverNow(env: TestWorkflowEnvironment, plusMs = 0): Promise<string> {
  return new Date((await env.currentTimeMs()) + plusMs).toISOString();
}
