import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import request from 'supertest';
import { createApp } from '../../api/app';
import type { ApiContext } from '../../api/context';
import { deviationStarts } from '../../api/services/deviation-starts';
import { DeviationStarts } from '../../containment/deviation-starts';
import { createLogger } from '../../lib/logger';
import { newDeviationRequest } from '../helpers/fixtures';
import { eventually, startStack, type TestStack } from '../helpers/stack';
import { bearer, signedInUser } from '../helpers/users';

/**
 * Opening a deviation commits its holds, the record of the request and its workflow's start in one
 * transaction, and answers; the workflow is started from that record afterwards. So a deviation
 * opened while Temporal is unreachable is still opened and held at once, and its workflow starts
 * when Temporal answers again: through any API process's sweep, or as soon as someone asks for it.
 */
let stack: TestStack;
let lead: Record<string, string>;
/** An API process whose Temporal is unreachable (nothing listens on its address). */
let away: { ctx: ApiContext; app: ReturnType<typeof createApp>; connection: Connection };
const silent = createLogger('api-test', 'silent');

beforeAll(async () => {
  stack = await startStack();
  lead = bearer((await signedInUser(stack.app, stack.pool, { roles: ['qa_lead'] })).token);
  const connection = Connection.lazy({ address: '127.0.0.1:9', connectTimeout: '1s' });
  const ctx: ApiContext = { config: stack.config, pool: stack.pool, temporal: new Client({ connection }), log: silent };
  away = { ctx, app: createApp(ctx), connection };
});
afterAll(async () => {
  // Its starts give up (the sweep's to retry) before its connection closes under them.
  await deviationStarts(away.ctx).stop();
  await away.connection.close();
  await stack.stop();
});

const startOf = async (id: string) =>
  (
    await stack.pool.query<{ started_at: Date | null; input: { id: string; batches: string[] } }>(
      'SELECT started_at, input FROM deviation_starts WHERE deviation_id = $1',
      [id],
    )
  ).rows[0];

const workflowOf = (id: string) => stack.temporal.workflow.getHandle(id).describe();

async function openWhileAway(batches: string[]): Promise<string> {
  const opened = await request(away.app).post('/deviations').set(lead).send(newDeviationRequest({ batches })).expect(201);
  expect(opened.body.stage).toBe('detection');
  expect(opened.body.holds.map((h: { lot: string }) => h.lot)).toEqual(batches);
  return opened.body.id as string;
}

it('opens and holds a deviation while Temporal is unreachable; a sweep starts its workflow once Temporal answers', async () => {
  const batches = ['LOT-AWAY-A1', 'LOT-AWAY-B2'];
  const id = await openWhileAway(batches);
  const { rows: holds } = await stack.pool.query('SELECT lot FROM holds WHERE deviation_id = $1 ORDER BY lot', [id]);
  expect(holds.map((h) => h.lot)).toEqual(batches);
  expect(await startOf(id)).toMatchObject({ started_at: null, input: { id, batches } });
  await expect(workflowOf(id)).rejects.toBeInstanceOf(WorkflowNotFoundError);

  // Another API process, whose Temporal answers, sweeps what was left waiting.
  const sweeper = new DeviationStarts({
    pool: stack.pool,
    temporal: stack.temporal,
    taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
    log: silent,
  });
  sweeper.startSweep(100, 0);
  try {
    const started = await eventually(async () => (await startOf(id))?.started_at ?? undefined, 20_000);
    expect(started).toBeInstanceOf(Date);
  } finally {
    await sweeper.stop();
  }
  const description = await workflowOf(id);
  expect(description.type).toBe('DeviationWorkflow');
  expect(description.status.name).toBe('RUNNING');

  // The workflow's containment finds the holds placed at opening: still one per batch.
  const state = await eventually(async () => {
    const s = (await request(stack.app).get(`/deviations/${id}`).set(lead).expect(200)).body.deviation;
    return s.containment.holds.length === batches.length ? s : undefined;
  }, 30_000);
  expect(state.id).toBe(id);
  expect((await stack.pool.query('SELECT count(*)::int AS n FROM holds WHERE deviation_id = $1', [id])).rows[0].n).toBe(batches.length);
});

it('starts a waiting workflow as soon as someone asks for its deviation', async () => {
  const id = await openWhileAway(['LOT-AWAY-C3']);
  expect((await startOf(id))?.started_at).toBeNull();
  // No sweep runs here: the request itself carries out the recorded start, then asks the workflow.
  const answer = await request(stack.app).get(`/deviations/${id}`).set(lead).expect(200);
  expect(answer.body.deviation.id).toBe(id);
  expect((await startOf(id))?.started_at).toBeInstanceOf(Date);
  expect((await workflowOf(id)).status.name).toBe('RUNNING');
});
