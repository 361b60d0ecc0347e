import request from 'supertest';
import { compressedPolicy, eventually, startStack, startWorker, type TestStack } from '../helpers/stack';
import { newDeviationRequest } from '../helpers/fixtures';
import { bearer, signedInUser } from '../helpers/users';

/** Timers live in the Temporal server, not in the worker: a worker lost mid-containment loses no clock. */
let stack: TestStack;
let lead: Record<string, string>;
beforeAll(async () => {
  stack = await startStack({ policy: compressedPolicy() });
  lead = bearer((await signedInUser(stack.app, stack.pool, { roles: ['qa_lead'] })).token);
});
afterAll(async () => {
  await stack.stop();
});

it('a worker killed during containment and restarted: the clock still fires on time', async () => {
  const id = (await request(stack.app).post('/deviations').set(lead).send(newDeviationRequest()).expect(201)).body.id as string;
  const started = await eventually(async () => {
    const s = (await request(stack.app).get(`/deviations/${id}`).set(lead).expect(200)).body.deviation;
    return s.containment.actionsCompletedAt ? s : undefined;
  });
  await stack.worker!.stop();
  stack.worker = null;
  await new Promise((r) => setTimeout(r, 3_000));
  stack.worker = await startWorker(stack.config, stack.pool);

  const breached = await eventually(async () => {
    const s = (await request(stack.app).get(`/deviations/${id}`).set(lead).expect(200)).body.deviation;
    return s.slaBreaches.length ? s : undefined;
  }, 30_000);
  // The compressed policy's window is 8 s and the worker is back within it: the breach is recorded
  // at the deadline, give or take the time a busy machine takes to run the timer's workflow task
  // (seconds when the whole suite runs at once), never a window or more late, nor missed.
  const lateByMs = Date.parse(breached.containment.slaBreachedAt) - Date.parse(started.containment.dueAt);
  expect(lateByMs).toBeGreaterThanOrEqual(0);
  expect(lateByMs).toBeLessThan(8_000);
});
