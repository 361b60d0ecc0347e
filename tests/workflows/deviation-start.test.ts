import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { createPool, type Pool } from '../../db/pool';
import { getStateQuery } from '../../workflows/messages';
import { PRODUCTION_POLICY, resolvePolicy } from '../../domain/policy';
import type { DeviationInput } from '../../workflows/types';
import { quietTemporalRuntime, workflowBundle } from '../helpers/stack';

let env: TestWorkflowEnvironment;
let pool: Pool;

beforeAll(async () => {
  quietTemporalRuntime();
  const path = process.env.TEMPORAL_TEST_SERVER;
  if (!path) throw new Error('TEMPORAL_TEST_SERVER is not set (scripts/prepare.mjs installs it)');
  env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path } } });
  pool = createPool(process.env.DATABASE_URL!, 2);
});
afterAll(async () => {
  await env?.teardown();
  await pool?.end();
});

it('a started deviation answers its state query and enters containment', async () => {
  const taskQueue = 'time-skipping-start';
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: workflowBundle(),
    activities: createActivities({ pool }),
  });
  const id = `DEV-2026-${String(Date.now()).slice(-6)}`;
  const input: DeviationInput = {
    id,
    detectedAt: new Date().toISOString(),
    title: 'Aggregation error on pallet build',
    symptom: 'aggregation_error',
    severity: 'major',
    batches: ['LOT-TS-1'],
    description: 'case with 11 children where 12 are expected',
    reportedBy: 'qa.lead@example.com',
    source: 'manual',
    lines: ['L3'],
    gtins: [],
    policy: resolvePolicy(PRODUCTION_POLICY, 'major'),
  };
  await worker.runUntil(async () => {
    const handle = await env.client.workflow.start('DeviationWorkflow', { workflowId: id, taskQueue, args: [input] });
    let state = await handle.query(getStateQuery);
    for (let i = 0; i < 50 && state.stage !== 'containment'; i++) {
      await env.sleep('1 second');
      state = await handle.query(getStateQuery);
    }
    expect(state.id).toBe(id);
    expect(state.stage).toBe('containment');
    expect(state.transitions[0]).toMatchObject({ from: null, to: 'detection', by: 'qa.lead@example.com' });
  });
});
