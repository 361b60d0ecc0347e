import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client as PgClient } from 'pg';
import request from 'supertest';
import { createPool, type Pool } from '../../db/pool';
import { formatDeviationId, openDeviationSchema } from '../../domain/deviation';
import { PRODUCTION_POLICY, resolvePolicy } from '../../domain/policy';
import { DEFAULT_CONFIG } from '../../lib/generator/plan';
import { generateBatch } from '../../lib/generator/write';
import { CAPTURE_KEY } from '../epcis/helpers';
import { newDeviationRequest } from '../helpers/fixtures';
import { sendGeneratedBatch } from '../helpers/generated-batch';
import { eventually, startStack, startWorker, testConfig, type TestStack } from '../helpers/stack';
import { bearer, signedInUser } from '../helpers/users';
import { completedAttempts, databaseUrlNamed } from './helpers';

/**
 * PostgreSQL ends the worker's connections in the middle of containment (a failover, an operator's
 * pg_terminate_backend, a network cut): the hold being placed, the read-model write, the outbox
 * write and the batch reconciliation each lose their connection mid-transaction. Each is retried to
 * success, and what people see is as if nothing happened: one hold on the batch, one alert, one
 * reconciliation report for the deviation, one row in the list.
 *
 * To kill each at a known point, the test first writes (uncommitted) the row each of them is about
 * to write, or locks it: the worker's transactions then wait on that lock, where they are found and
 * ended; the test's transaction then rolls back and the retries go through.
 */
let stack: TestStack;
let workerPool: Pool;
/**
 * One client per row written ahead of the worker, so that each can be let go on its own: the holds
 * and the alert are written by one transaction (one local activity), which meets the hold's row
 * first and, retried, the alert's; reconciliation runs once the holds are placed.
 */
let blockers: Record<'holds' | 'alert' | 'readModel' | 'reconciliation', PgClient>;
let dir: string;
let lead: Record<string, string>;
/** Every connection of the worker (its pool and reconciliation's own connection) carries this name. */
const WORKER_CONNECTIONS = `fault-pg-${randomUUID().slice(0, 8)}`;
const LOT = `LOT-K${Date.now().toString(36).toUpperCase().slice(-7)}`;

beforeAll(async () => {
  stack = await startStack({ worker: false, config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY }) });
  lead = bearer((await signedInUser(stack.app, stack.pool, { roles: ['qa_lead'] })).token);
  dir = mkdtempSync(path.join(tmpdir(), 'fault-pg-'));
  const manifest = await generateBatch(
    { ...DEFAULT_CONFIG, seed: Date.now() % 100_000, units: 200, lot: LOT, eventsPerDocument: 100 },
    dir,
  );
  await sendGeneratedBatch(stack.app, dir, manifest, CAPTURE_KEY);
  // A first reconciliation (through the API) gives the batch its monitoring point, which the
  // deviation's reconciliation updates in its last statement: the place the test stops it.
  await request(stack.app).post(`/batches/${LOT}/reconciliation`).set('X-API-Key', CAPTURE_KEY).expect(201);
  workerPool = createPool(databaseUrlNamed(stack.config.DATABASE_URL, WORKER_CONNECTIONS), 5);
  const connected = async () => {
    const client = new PgClient({ connectionString: stack.config.DATABASE_URL });
    await client.connect();
    return client;
  };
  blockers = { holds: await connected(), alert: await connected(), readModel: await connected(), reconciliation: await connected() };
});
afterAll(async () => {
  await Promise.all(Object.values(blockers ?? {}).map((b) => b.end()));
  await stack.stop();
  await workerPool?.end();
  rmSync(dir, { recursive: true, force: true });
});

/** The worker's connections waiting on a lock, by the table their statement writes. */
async function waitingWorkerStatements(): Promise<Map<string, number>> {
  const { rows } = await stack.pool.query<{ pid: number; query: string }>(
    `SELECT pid, query FROM pg_stat_activity
      WHERE datname = current_database() AND application_name = $1 AND wait_event_type = 'Lock'`,
    [WORKER_CONNECTIONS],
  );
  const byTable = new Map<string, number>();
  for (const r of rows) {
    const table = /INSERT INTO (\w+)/.exec(r.query)?.[1];
    if (table) byTable.set(table, r.pid);
  }
  return byTable;
}

it('connections killed during hold placement, the read-model write, the outbox write and reconciliation: each retried, each effect once', async () => {
  // Started straight on Temporal, as the line monitor starts the deviations it opens: the API would
  // place the hold itself before answering, and it is the worker's placement this test interrupts.
  const request_ = openDeviationSchema.parse(newDeviationRequest({ batches: [LOT] }));
  const id = formatDeviationId(new Date().getUTCFullYear(), 800_000 + (Date.now() % 100_000));
  await stack.temporal.workflow.start('DeviationWorkflow', {
    workflowId: id,
    taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
    args: [
      {
        ...request_,
        reportedBy: 'monitoring',
        id,
        detectedAt: new Date().toISOString(),
        policy: resolvePolicy(PRODUCTION_POLICY, request_.severity),
      },
    ],
  });

  for (const b of Object.values(blockers)) await b.query('BEGIN');
  await blockers.holds.query(`INSERT INTO holds (deviation_id, lot, reason, placed_by) VALUES ($1, $2, 'test blocker', 'test')`, [id, LOT]);
  await blockers.readModel.query(
    `INSERT INTO deviations (id, title, symptom, severity, stage, batches, reported_by, detected_at, updated_at, version)
     VALUES ($1, 'test blocker', 'other', 'minor', 'detection', $2, 'test', now(), now(), 0)`,
    [id, [LOT]],
  );
  await blockers.alert.query(
    `INSERT INTO notifications (dedupe_key, deviation_id, kind, recipients, subject) VALUES ($1, $2, 'test', '{}', 'test blocker')`,
    [`${id}:containment:alert`, id],
  );
  await blockers.reconciliation.query(
    'SELECT 1 FROM batch_metrics m JOIN batches b ON b.id = m.batch_id WHERE b.lot = $1 FOR UPDATE OF m',
    [LOT],
  );

  stack.worker = await startWorker(stack.config, workerPool);
  /** Waits until the worker's statements wait on exactly these tables, ends their connections, then lets the blockers go. */
  const killWhenWaiting = async (tables: string[], release: PgClient[]) => {
    const waiting = await eventually(async () => {
      const w = await waitingWorkerStatements();
      return tables.every((t) => w.has(t)) ? w : undefined;
    }, 30_000);
    expect([...waiting.keys()].sort()).toEqual(tables);
    const { rows: killed } = await stack.pool.query<{ ok: boolean }>(
      'SELECT pg_terminate_backend(pid) AS ok FROM unnest($1::int[]) AS pid',
      [[...waiting.values()]],
    );
    expect(killed.map((k) => k.ok)).toEqual(tables.map(() => true));
    for (const b of release) await b.query('ROLLBACK');
  };
  // The hold (the first write of containment's transaction; the deviation's local activities run one
  // at a time, so the read model's first snapshot waits behind it).
  await killWhenWaiting(['holds'], [blockers.holds]);
  // Retried, the transaction places the hold and meets the alert's row.
  await killWhenWaiting(['notifications'], [blockers.alert]);
  // Then, the holds placed, the read model's snapshot and the preliminary reconciliation
  // (batch_metrics is its last statement: its report is written, not yet committed).
  await killWhenWaiting(['batch_metrics', 'deviations'], [blockers.readModel]);
  // The killed reconciliation left nothing behind: no report, no findings.
  const reports = async () =>
    (await stack.pool.query<{ id: string }>('SELECT id FROM reconciliation_reports WHERE deviation_id = $1', [id])).rows.map((r) => r.id);
  expect(await reports()).toEqual([]);
  await blockers.reconciliation.query('ROLLBACK');

  const state = await eventually(async () => {
    const s = (await request(stack.app).get(`/deviations/${id}`).set(lead).expect(200)).body.deviation;
    return s.containment.actionsCompletedAt && s.containment.preliminaryReconciliation.length === 1 ? s : undefined;
  }, 60_000);

  // Each was retried and succeeded on a later attempt: the holds and the alert (a local activity)
  // on the third, after losing its connection at each of its two writes.
  const attempts = await completedAttempts(stack.temporal, id);
  expect(attempts.placeHoldsAndAlert?.[0]).toBeGreaterThan(2);
  expect(attempts.recordDeviationSnapshot?.[0]).toBeGreaterThan(1);
  expect(attempts.reconcileBatch?.[0]).toBeGreaterThan(1);

  // One hold on the batch, placed once in the audit trail.
  const holds = await stack.pool.query('SELECT lot, placed_by FROM holds WHERE deviation_id = $1', [id]);
  expect(holds.rows).toEqual([{ lot: LOT, placed_by: 'system' }]);
  expect(state.containment.holds).toHaveLength(1);
  const audited = async (action: string) =>
    (
      await stack.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_trail WHERE deviation_id = $1 AND action = $2', [
        id,
        action,
      ])
    ).rows[0]!.n;
  expect(await audited('hold.placed')).toBe(1);

  // One alert, queued once.
  const notes = await stack.pool.query<{ kind: string; n: number }>(
    'SELECT kind, count(*)::int AS n FROM notifications WHERE deviation_id = $1 GROUP BY kind ORDER BY kind',
    [id],
  );
  expect(notes.rows.find((r) => r.kind === 'containment_alert')?.n).toBe(1);
  expect(notes.rows.find((r) => r.kind === 'test')).toBeUndefined();
  expect(await audited('notification.queued')).toBe(notes.rows.reduce((n, r) => n + r.n, 0));

  // One reconciliation report for the deviation, the one the workflow holds, with all its findings.
  const [reportId] = await reports();
  expect(await reports()).toEqual([state.containment.preliminaryReconciliation[0].reportId]);
  const findings = await stack.pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM reconciliation_discrepancies WHERE report_id = $1',
    [reportId],
  );
  const counted = Object.values(state.containment.preliminaryReconciliation[0].discrepancies as Record<string, number>).reduce(
    (a, b) => a + b,
    0,
  );
  expect(findings.rows[0]!.n).toBe(counted);
  const point = await stack.pool.query('SELECT report_id FROM batch_metrics m JOIN batches b ON b.id = m.batch_id WHERE b.lot = $1', [LOT]);
  expect(point.rows).toEqual([{ report_id: reportId }]);

  // One row in the list, at the workflow's version, with its one open task.
  const row = await eventually(async () => {
    const { rows } = await stack.pool.query<{ title: string; version: number }>('SELECT title, version FROM deviations WHERE id = $1', [
      id,
    ]);
    const current = (await request(stack.app).get(`/deviations/${id}`).set(lead).expect(200)).body.deviation.version;
    return rows.length === 1 && rows[0]!.version === current ? rows[0] : undefined;
  });
  expect(row.title).not.toBe('test blocker');
  const tasks = await stack.pool.query('SELECT gate FROM signoff_tasks WHERE deviation_id = $1', [id]);
  expect(tasks.rows).toEqual([{ gate: 'containment_verification' }]);
});
