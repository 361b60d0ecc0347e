import request from 'supertest';
import { eventually, startStack, startWorker, type TestStack } from '../helpers/stack';
import { newDeviationRequest } from '../helpers/fixtures';
import { bearer, signedInUser } from '../helpers/users';

let stack: TestStack;
let lead: Record<string, string>;
beforeAll(async () => {
  stack = await startStack({ worker: false });
  lead = bearer((await signedInUser(stack.app, stack.pool, { roles: ['qa_lead'] })).token);
});
afterAll(async () => {
  await stack.stop();
});

it('a deviation opened while no worker runs continues once a worker starts again', async () => {
  const first = await startWorker(stack.config, stack.pool);
  const early = await request(stack.app).post('/deviations').set(lead).send(newDeviationRequest()).expect(201);
  await first.stop();

  // No worker: the deviation is recorded in Temporal but cannot progress yet.
  const waiting = await request(stack.app).post('/deviations').set(lead).send(newDeviationRequest()).expect(201);
  const readModel = await stack.pool.query('SELECT 1 FROM deviations WHERE id = $1', [waiting.body.id]);
  expect(readModel.rowCount).toBe(0);

  stack.worker = await startWorker(stack.config, stack.pool);
  for (const id of [early.body.id, waiting.body.id]) {
    const stage = await eventually(async () => {
      const { rows } = await stack.pool.query<{ stage: string }>('SELECT stage FROM deviations WHERE id = $1', [id]);
      return rows[0]?.stage === 'containment' ? rows[0].stage : undefined;
    });
    expect(stage).toBe('containment');
  }
});
