import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createMonitoringActivities } from '../../activities/monitoring';
import { PRODUCTION_POLICY } from '../../domain/policy';
import { reconcileBatch } from '../../reconciliation/reconcile';
import type { LineMonitorWorkflow } from '../../workflows/line-monitor';
import { batchPointSignal, getStateQuery, lineMonitorWorkflowId } from '../../workflows/messages';
import { CAPTURE_KEY } from '../epcis/helpers';
import { eventually } from '../helpers/eventually';
import { startStack, testConfig, type TestStack } from '../helpers/stack';
import { createTestWorker, createTimeSkippingEnv, serverNow, workflowTestActivities } from '../helpers/time-skipping';
import { captureBatch, claimsOf, judged, monitorStatus, uniqueLine } from './helpers';

/**
 * A unit missing from the repository report counts only once the policy's grace period (a day in
 * production) has passed since the batch completed: repositories acknowledge serials some time after
 * packing. The monitor judges the point at completion, finds nothing yet, and sets a durable timer to
 * judge it again when the grace period ends; on the time-skipping server that day passes in a moment.
 *
 * The batch goes in through the API (a stack without a worker); it is reconciled and marked complete
 * here rather than by POST /batches/:lot/complete, whose signal would go to the dev server: the
 * monitor under test runs on the time-skipping server, told the way the API tells it.
 */
let stack: TestStack;
let env: TestWorkflowEnvironment;

beforeAll(async () => {
  stack = await startStack({ worker: false, config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY }) });
  env = await createTimeSkippingEnv();
});
afterAll(async () => {
  await env?.teardown();
  await stack?.stop();
});

it('opens a deviation for a missing repository report only when the grace period after completion has passed', async () => {
  const line = uniqueLine('LMG');
  const batch = await captureBatch(stack.app, stack.pool, CAPTURE_KEY, line, { missingReports: 1 });
  const summary = await reconcileBatch(stack.pool, { lot: batch.lot, gtin: batch.gtin });
  expect(summary.discrepancies.missing_report).toBe(1);
  const completedAt = await serverNow(env);
  await stack.pool.query('UPDATE batches SET completed_at = $2 WHERE id = $1', [batch.batchId, completedAt]);

  const activities = { ...workflowTestActivities(stack.pool), ...createMonitoringActivities(stack.pool, PRODUCTION_POLICY) };
  const { worker, taskQueue } = await createTestWorker(env, activities);
  await worker.runUntil(async () => {
    await env.client.workflow.signalWithStart<typeof LineMonitorWorkflow, [{ batchId: string }]>('LineMonitorWorkflow', {
      workflowId: lineMonitorWorkflowId(line),
      taskQueue,
      args: [{ line }],
      signal: batchPointSignal,
      signalArgs: [{ batchId: batch.batchId }],
    });
    const judgedOnce = await judged(env.client, line, 1);
    const graceEnds = new Date(Date.parse(completedAt) + 86_400_000).toISOString();
    expect(judgedOnce.rechecks).toEqual([{ batchId: batch.batchId, at: graceEnds }]);
    expect(await claimsOf(stack.pool, batch.batchId)).toEqual([]);

    await env.sleep('23 hours');
    expect((await monitorStatus(env.client, line)).evaluated).toBe(1);
    expect(await claimsOf(stack.pool, batch.batchId)).toEqual([]);

    await env.sleep('2 hours');
    const [claim] = await eventually(async () => {
      const claims = await claimsOf(stack.pool, batch.batchId);
      return claims.length && claims.every((c) => c.delivered_at) ? claims : undefined;
    });
    expect(claim).toMatchObject({ signal: 'threshold:missing_report', disposition: 'opened' });
    const state = await env.client.workflow.getHandle(claim!.deviation_id).query(getStateQuery);
    expect(state).toMatchObject({
      source: 'reconciliation',
      symptom: 'missing_report',
      batches: [batch.lot],
      detection: { metric: 'missing_report', count: 1, reportId: summary.reportId },
    });
    // Judged after the grace period: the deviation's detection is the monitor's clock then, not the completion.
    expect(Date.parse(state.detectedAt)).toBeGreaterThanOrEqual(Date.parse(graceEnds));
    const after = await monitorStatus(env.client, line);
    expect(after).toMatchObject({ evaluated: 2, rechecks: [], failures: [] });
  });
});
