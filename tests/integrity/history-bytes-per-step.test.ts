import request from 'supertest';
import { temporal } from '@temporalio/proto';
import { as, createCast, sign, type Cast } from '../helpers/actors';
import { compressedPolicy, eventually, startStack, type TestStack } from '../helpers/stack';
import { openContainedDeviation, step, waitForState } from './helpers';

/**
 * An Update's result is stored in history with it. Steps used to answer with the whole state, so
 * every step stored the record again: about 170 steps grew one deviation to 3.7 MB. Now a step
 * stores its input and a small answer, and its cost does not grow with the record.
 */
let stack: TestStack;
let cast: Cast;
beforeAll(async () => {
  stack = await startStack({ policy: compressedPolicy() });
  cast = await createCast(stack.app, stack.pool);
});
afterAll(async () => {
  await stack.stop();
});

/** Bytes of history the deviation's Updates take (accepted + completed events), as Temporal stores them. */
async function updateBytes(id: string): Promise<{ updates: number; bytes: number }> {
  const history = await stack.temporal.workflow.getHandle(id).fetchHistory();
  let updates = 0;
  let bytes = 0;
  for (const event of history.events ?? []) {
    if (!event.workflowExecutionUpdateAcceptedEventAttributes && !event.workflowExecutionUpdateCompletedEventAttributes) continue;
    if (event.workflowExecutionUpdateCompletedEventAttributes) updates += 1;
    bytes += temporal.api.history.v1.HistoryEvent.encode(temporal.api.history.v1.HistoryEvent.create(event)).finish().length;
  }
  return { updates, bytes };
}

it('each step adds a small, constant number of bytes to history, however large the record has grown', async () => {
  const id = await openContainedDeviation(stack.app, cast);
  const t1 = await eventually(
    async () =>
      (await request(stack.app).get('/tasks').query({ deviation: id }).set(as(cast.qaLead))).body.items[0]?.id as string | undefined,
  );
  expect((await sign(stack.app, cast.qaLead, t1, 'verified')).status).toBe(201);
  await waitForState(stack.app, cast, id, (s) => s.stage === 'investigation');

  const evidence = (n: number) => ({
    items: [{ kind: 'batch_record', ref: `BR-${n}`, title: `Batch record page ${n} with the operator's notes` }],
  });
  for (let n = 1; n <= 10; n++) await step(stack.app, id, cast.investigator, 'evidence', evidence(n));
  const early = await updateBytes(id);
  for (let n = 11; n <= 60; n++) await step(stack.app, id, cast.investigator, 'evidence', evidence(n));
  const late = await updateBytes(id);

  const firstSteps = early.bytes / early.updates;
  const lastSteps = (late.bytes - early.bytes) / (late.updates - early.updates);
  process.stdout.write(
    `[history] ${firstSteps.toFixed(0)} bytes per step over the first ${early.updates}, ${lastSteps.toFixed(0)} over the next ${late.updates - early.updates}\n`,
  );
  expect(late.updates - early.updates).toBe(50);
  // An evidence step's input is ~150 bytes; with its Update's envelopes about 1 KB in all.
  expect(lastSteps).toBeLessThan(1500);
  // With the whole state in each answer the 60th step stored ~60 items of evidence: many times the first.
  expect(lastSteps).toBeLessThan(firstSteps * 1.2);
});
