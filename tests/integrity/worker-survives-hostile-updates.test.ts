import request from 'supertest';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import * as msg from '../../workflows/messages';
import { as, createCast, sign, type Cast } from '../helpers/actors';
import { newDeviationRequest } from '../helpers/fixtures';
import { compressedPolicy, eventually, startStack, type TestStack } from '../helpers/stack';
import { deviationsStartedSince, lastDeviationNumber } from '../helpers/started-deviations';
import { acceptedUpdates, openContainedDeviation, waitForState } from './helpers';

/**
 * One request could stop every deviation: a refusal that repeated a lone surrogate could not be
 * encoded by the SDK's core, which then shut the worker down. Hostile text now never reaches a
 * failure or a payload, whether it comes through the API or straight to Temporal.
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

const soon = () => new Date(Date.now() + 3 * 86_400_000).toISOString();

it('Updates sent straight to Temporal with a lone surrogate or NUL anywhere are refused, add nothing to history, and leave the worker polling', async () => {
  const id = await openContainedDeviation(stack.app, cast);
  const handle = stack.temporal.workflow.getHandle(id);
  const before = await acceptedUpdates(stack.temporal, id);
  const hostile: Array<[string, () => Promise<unknown>]> = [
    [
      'a lone surrogate in a deadline key (the probe that stopped the worker)',
      () =>
        handle.executeUpdate(msg.requestExtension, {
          args: [{ by: cast.investigator.login, deadline: 'x\ud800y', newDueAt: soon(), justification: 'vendor analysis' }],
        }),
    ],
    [
      'NUL in a justification',
      () =>
        handle.executeUpdate(msg.requestExtension, {
          args: [{ by: cast.investigator.login, deadline: 'T1', newDueAt: soon(), justification: 'a\u0000b' }],
        }),
    ],
    [
      'a lone surrogate as an unknown key (zod names unknown keys)',
      () =>
        handle.executeUpdate(msg.requestExtension, {
          args: [{ by: cast.investigator.login, deadline: 'T1', newDueAt: soon(), justification: 'j', ['\udc00']: 1 } as never],
        }),
    ],
    [
      'a lone surrogate as the actor',
      () => handle.executeUpdate(msg.addEvidence, { args: [{ by: 'x\ud800', items: [{ kind: 'hold', ref: 'H', title: 't' }] }] }),
    ],
    [
      'a lone surrogate in a signature comment',
      () =>
        handle.executeUpdate(msg.signTask, {
          args: [
            {
              by: cast.qaLead.login,
              taskId: 'T1',
              signature: {
                signerId: cast.qaLead.id,
                login: cast.qaLead.login,
                printedName: cast.qaLead.printedName,
                roles: ['qa_lead'],
                meaning: 'verified',
                signedAt: new Date().toISOString(),
                recordHash: 'ab'.repeat(32),
                comment: 'ok\udbff',
              },
            },
          ],
        }),
    ],
    [
      'NUL in a fault-tree node id',
      () =>
        handle.executeUpdate(msg.recordRootCauseAnalysis, {
          args: [
            {
              by: cast.investigator.login,
              analysis: {
                method: 'fault_tree',
                top: 'T\u0000',
                nodes: [
                  { id: 'T\u0000', type: 'or', label: 'x', children: ['B'] },
                  { id: 'B', type: 'basic', label: 'b' },
                ],
                rootCauses: ['B'],
              },
            },
          ],
        }),
    ],
  ];
  for (const [what, send] of hostile) {
    const refused = await send().then(
      () => new Error(`${what}: accepted`),
      (err: unknown) => err,
    );
    expect([what, refused]).toEqual([what, expect.any(WorkflowUpdateFailedError)]);
    const message = (refused as WorkflowUpdateFailedError).cause?.message ?? '';
    expect(message).not.toMatch(/[\u0000\ud800-\udfff]/u);
  }
  expect(stack.worker!.worker.getState()).toBe('RUNNING');
  expect(await acceptedUpdates(stack.temporal, id)).toEqual(before);

  // The same deviation, and every other, still moves: the worker polls on.
  const task = (await request(stack.app).get('/tasks').query({ deviation: id }).set(as(cast.qaLead)).expect(200)).body.items[0];
  expect((await sign(stack.app, cast.qaLead, task.id, 'verified')).status).toBe(201);
  await waitForState(stack.app, cast, id, (s) => s.stage === 'investigation');
  const other = await openContainedDeviation(stack.app, cast);
  expect(other).not.toBe(id);
  const health = await eventually(async () => {
    const res = await request(stack.app).get('/health');
    return res.body.checks?.worker?.status === 'up' ? res.body : undefined;
  });
  expect(health.checks.worker.pollers).toBeGreaterThanOrEqual(1);
});

it('through the API the same text is a 400 naming the field, and nothing is stored: no deviation, no history, no audit row', async () => {
  const countOf = async (sql: string, params: unknown[] = []) => Number((await stack.pool.query<{ n: string }>(sql, params)).rows[0]!.n);
  const numberBefore = await lastDeviationNumber(stack.pool);
  const refusedBatches: string[] = [];
  for (const [field, value] of [
    ['title', 'Duplicates\u0000 on line 3'],
    ['title', 'Duplicates \ud800 on line 3'],
    ['description', 'x\u0007y'],
    ['lines', ['L3\u0000']],
  ] as const) {
    const body = newDeviationRequest({ [field]: value } as never);
    refusedBatches.push(...(body.batches as string[]));
    const res = await request(stack.app).post('/deviations').set(as(cast.qaLead)).send(body).expect(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual([field === 'lines' ? 'lines.0' : field]);
  }
  const startedBatches = (await deviationsStartedSince(stack, numberBefore)).flatMap((s) => s.batches);
  expect(startedBatches.filter((b) => refusedBatches.includes(b))).toEqual([]);

  const id = await openContainedDeviation(stack.app, cast);
  const auditBefore = await countOf("SELECT count(*) AS n FROM audit_trail WHERE deviation_id = $1 AND entity_type = 'api_call'", [id]);
  const updatesBefore = await acceptedUpdates(stack.temporal, id);
  const refusals = [
    request(stack.app)
      .post(`/deviations/${id}/extensions`)
      .set(as(cast.investigator))
      .send({ deadline: 'x\ud800y', newDueAt: soon(), justification: 'vendor' }),
    request(stack.app)
      .post(`/deviations/${id}/extensions`)
      .set(as(cast.investigator))
      .send({ deadline: 'T1', newDueAt: soon(), justification: 'vendor\u0000' }),
    request(stack.app)
      .post(`/deviations/${id}/cancel`)
      .set(as(cast.qaLead))
      .send({ justification: 'scanner\u0000misread', login: cast.qaLead.login, password: cast.qaLead.password }),
  ];
  for (const res of await Promise.all(refusals)) {
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).not.toMatch(/\\u0000|\\ud800/);
  }
  const task = (await request(stack.app).get('/tasks').query({ deviation: id }).set(as(cast.qaLead)).expect(200)).body.items[0];
  expect((await sign(stack.app, cast.qaLead, task.id, 'verified', 'checked\u0000')).status).toBe(400);
  expect(await countOf("SELECT count(*) AS n FROM audit_trail WHERE deviation_id = $1 AND entity_type = 'api_call'", [id])).toBe(
    auditBefore,
  );
  expect(await acceptedUpdates(stack.temporal, id)).toEqual(updatesBefore);
  expect(stack.worker!.worker.getState()).toBe('RUNNING');
});
