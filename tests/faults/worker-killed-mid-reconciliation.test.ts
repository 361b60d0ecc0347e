import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { countsFromRate, DEFAULT_CONFIG } from '../../lib/generator/plan';
import { generateBatch, type Manifest } from '../../lib/generator/write';
import { CAPTURE_KEY } from '../epcis/helpers';
import { newDeviationRequest } from '../helpers/fixtures';
import { sendGeneratedBatch } from '../helpers/generated-batch';
import { eventually, startStack, testConfig, type TestStack } from '../helpers/stack';
import { bearer, signedInUser } from '../helpers/users';
import { completedAttempts, ownDatabase, startWorkerProcess, type ServiceProcess } from './helpers';

/**
 * The worker process is killed (kill -9) while containment's reconciliation of a large batch runs
 * and heartbeats. Nothing the killed attempt did is kept (its transaction never commits); once the
 * heartbeat timeout tells Temporal the attempt is lost, a new worker runs it again, and the
 * deviation has exactly one reconciliation report, the one its record names.
 *
 * The size: the issue asks for 1,000,000 units. The retry cannot come before the heartbeat timeout
 * (2 minutes, workflows/deviation/runtime.ts), and on this machine's two shared cores generating and
 * capturing a million units takes two minutes more, past the three minutes this test may take.
 * 200,000 units (20,000 events, 400,000 identifiers) are generated and captured in about half a
 * minute, and still keep reconciliation busy for seconds: time enough to see it heartbeat and kill it.
 */
const UNITS = 200_000;

let db: Awaited<ReturnType<typeof ownDatabase>>;
let stack: TestStack;
let dir: string;
let manifest: Manifest;
let lead: Record<string, string>;
const workers: ServiceProcess[] = [];
const LOT = `LOT-W${Date.now().toString(36).toUpperCase().slice(-7)}`;

const startWorker = () =>
  startWorkerProcess(stack.temporal, {
    DATABASE_URL: stack.config.DATABASE_URL,
    TEMPORAL_ADDRESS: stack.config.TEMPORAL_ADDRESS,
    TEMPORAL_TASK_QUEUE: stack.config.TEMPORAL_TASK_QUEUE,
  });

beforeAll(async () => {
  // A database of its own: a worker process's dispatcher delivers every pending notification it finds.
  db = await ownDatabase('reconcile', 910_000);
  stack = await startStack({ worker: false, config: testConfig({ DATABASE_URL: db.url, CAPTURE_API_KEY: CAPTURE_KEY }) });
  lead = bearer((await signedInUser(stack.app, stack.pool, { roles: ['qa_lead'] })).token);
  dir = mkdtempSync(path.join(tmpdir(), 'fault-worker-'));
  const config = { ...DEFAULT_CONFIG, seed: Date.now() % 100_000, units: UNITS, lot: LOT, plants: countsFromRate(UNITS, 0.005) };
  // The first worker bundles its workflows while the batch is generated and captured.
  const [worker] = await Promise.all([
    startWorker(),
    (async () => {
      manifest = await generateBatch(config, dir);
      await sendGeneratedBatch(stack.app, dir, manifest, CAPTURE_KEY);
    })(),
  ]);
  workers.push(worker);
}, 150_000);
afterAll(async () => {
  for (const w of workers) await w.stop();
  await stack?.stop();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

it('a worker killed while reconciliation heartbeats: another runs it again, and the deviation has one report', async () => {
  const id = (
    await request(stack.app)
      .post('/deviations')
      .set(lead)
      .send(newDeviationRequest({ batches: [LOT] }))
      .expect(201)
  ).body.id as string;
  const handle = stack.temporal.workflow.getHandle(id);
  await eventually(
    async () => {
      const pending = (await handle.describe()).raw.pendingActivities ?? [];
      return pending.some((a) => a.activityType?.name === 'reconcileBatch' && a.heartbeatDetails?.payloads?.length) ? true : undefined;
    },
    60_000,
    50,
  );
  await workers[0]!.kill9();

  const reports = async () =>
    (await stack.pool.query<{ id: string }>('SELECT id FROM reconciliation_reports WHERE deviation_id = $1', [id])).rows.map((r) => r.id);
  // The killed attempt's transaction never commits: no report, however long its last statement runs on.
  await new Promise((r) => setTimeout(r, 2_000));
  expect(await reports()).toEqual([]);

  workers.push(await startWorker());
  const state = await eventually(
    async () => {
      const s = (await request(stack.app).get(`/deviations/${id}`).set(lead).expect(200)).body.deviation;
      return s.containment.preliminaryReconciliation.length ? s : undefined;
    },
    170_000,
    1_000,
  ).catch(async (err: unknown) => {
    const pending = (await handle.describe()).raw.pendingActivities ?? [];
    throw new Error(
      `${String(err)}; activities still pending: ${JSON.stringify(pending.map((a) => [a.activityType?.name, a.attempt, a.lastFailure?.message]))}`,
    );
  });

  // The second attempt succeeded, and its report is the one and only for the deviation.
  expect((await completedAttempts(stack.temporal, id)).reconcileBatch).toEqual([2]);
  const summary = state.containment.preliminaryReconciliation[0];
  expect(await reports()).toEqual([summary.reportId]);
  expect(summary.balance).toEqual(manifest.balance);
  expect(summary.discrepancies).toMatchObject(manifest.plantedByCategory);
  const findings = await stack.pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM reconciliation_discrepancies WHERE report_id = $1',
    [summary.reportId],
  );
  expect(findings.rows[0]!.n).toBe(manifest.planted.length);
  expect((await stack.pool.query('SELECT 1 FROM holds WHERE deviation_id = $1', [id])).rowCount).toBe(1);
}, 240_000);
