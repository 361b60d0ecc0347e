import { spawnSync } from 'node:child_process';
import request from 'supertest';
import { eventually } from '../helpers/eventually';
import { newDeviationRequest } from '../helpers/fixtures';
import { startStack, type TestStack } from '../helpers/stack';
import { bearer, signedInUser } from '../helpers/users';

/**
 * An independent check: the installed `temporal` CLI, pointed at the suite's dev server, must
 * print the same history the API exports, and list the same run and status.
 */
let stack: TestStack;
let qaLead: { token: string };
let auditor: { token: string };
beforeAll(async () => {
  stack = await startStack();
  qaLead = await signedInUser(stack.app, stack.pool, { roles: ['qa_lead'] });
  auditor = await signedInUser(stack.app, stack.pool, { roles: ['auditor'] });
});
afterAll(async () => {
  await stack.stop();
});

function temporalCli(...args: string[]): string {
  const cli = process.env.TEMPORAL_CLI;
  const address = process.env.TEMPORAL_ADDRESS;
  if (!cli || !address) throw new Error('TEMPORAL_CLI and TEMPORAL_ADDRESS are set by the global setup');
  const r = spawnSync(cli, [...args, '--address', address, '--namespace', stack.config.TEMPORAL_NAMESPACE, '--output', 'json'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (r.status !== 0) throw new Error(`temporal ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

it('`temporal workflow show` prints the history the API exports, byte for byte; `workflow list` agrees on run and status', async () => {
  const created = await request(stack.app).post('/deviations').set(bearer(qaLead.token)).send(newDeviationRequest()).expect(201);
  const id = created.body.id as string;
  await eventually(async () => {
    const { rows } = await stack.pool.query('SELECT 1 FROM holds WHERE deviation_id = $1', [id]);
    return rows.length ? true : undefined;
  });
  // A closed workflow's history no longer grows between the two reads.
  await stack.temporal.workflow.getHandle(id).terminate('independent CLI check');

  const api = await request(stack.app).get(`/deviations/${id}/history`).set(bearer(auditor.token)).query({ run: 'latest' }).expect(200);
  const cliShow = temporalCli('workflow', 'show', '--workflow-id', id);
  expect(api.text).toBe(cliShow);
  expect(JSON.parse(api.text)).toEqual(JSON.parse(cliShow));

  const all = await request(stack.app).get(`/deviations/${id}/history`).set(bearer(auditor.token)).expect(200);
  const exported = JSON.parse(all.text) as { runs: Array<{ runId: string; events: unknown[] }> };
  expect(exported.runs).toHaveLength(1);
  expect(exported.runs[0]!.events).toEqual(JSON.parse(cliShow).events);

  const listed = await eventually(async () => {
    const rows = JSON.parse(temporalCli('workflow', 'list', '--query', `WorkflowId='${id}'`)) as Array<{
      execution: { workflowId: string; runId: string };
      status: string;
      type: { name: string };
      historyLength: string;
    }>;
    return rows.length && rows[0]!.status !== 'WORKFLOW_EXECUTION_STATUS_RUNNING' ? rows : undefined;
  });
  expect(listed).toHaveLength(1);
  expect(listed[0]).toMatchObject({
    execution: { workflowId: id, runId: api.headers['x-run-id'] },
    type: { name: 'DeviationWorkflow' },
    status: 'WORKFLOW_EXECUTION_STATUS_TERMINATED',
    historyLength: String(exported.runs[0]!.events.length),
  });
});
