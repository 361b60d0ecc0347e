import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import request from 'supertest';
import { createArchiveActivities } from '../../activities/archive';
import { ARCHIVE_SCHEDULE_ID, ensureArchiveSchedule } from '../../audit/archive-schedule';
import { FULL_SWEEP_EVERY_MS, VISIBILITY_LAG_MS } from '../../domain/archive-sweep';
import { readZip, verifyEvidencePackage } from '../../audit/evidence/verify';
import { sha256Hex } from '../../audit/history';
import { eventually } from '../helpers/eventually';
import { newDeviationRequest } from '../helpers/fixtures';
import { workflowBundle } from '../helpers/bundle';
import { startStack, type TestStack } from '../helpers/stack';
import { bearer, signedInUser } from '../helpers/users';

/**
 * A closed deviation outlives Temporal: archived by the ArchiveClosedDeviations workflow, deleted
 * from Temporal, and still exported, replayed and packaged from the archive.
 */
let stack: TestStack;
let archiveWorker: Worker;
let archiveRunning: Promise<void>;
let qaLead: { token: string };
/** The done-when of issue 6: a user with only the auditor role exports, verifies and replays. */
let auditor: { token: string };
const root = path.resolve(__dirname, '..', '..');

beforeAll(async () => {
  stack = await startStack();
  archiveWorker = await Worker.create({
    connection: stack.worker!.worker.options.connection!,
    taskQueue: `${stack.config.TEMPORAL_TASK_QUEUE}-archive`,
    workflowBundle: workflowBundle(),
    activities: createArchiveActivities({ pool: stack.pool, temporal: stack.temporal }),
  });
  archiveRunning = archiveWorker.run();
  qaLead = await signedInUser(stack.app, stack.pool, { roles: ['qa_lead'] });
  auditor = await signedInUser(stack.app, stack.pool, { roles: ['auditor'] });
});
afterAll(async () => {
  archiveWorker?.shutdown();
  await archiveRunning;
  await stack.stop();
});

async function openAndClose(): Promise<string> {
  const created = await request(stack.app).post('/deviations').set(bearer(qaLead.token)).send(newDeviationRequest()).expect(201);
  const id = created.body.id as string;
  await eventually(async () => {
    const r = await request(stack.app).get(`/deviations/${id}`).set(bearer(qaLead.token));
    return r.body.stage === 'containment' ? true : undefined;
  });
  // Wait until the opening steps (recurrence check, holds, alert) are in history before closing.
  await eventually(async () => {
    const { rows } = await stack.pool.query('SELECT 1 FROM holds WHERE deviation_id = $1', [id]);
    return rows.length ? true : undefined;
  });
  await stack.temporal.workflow.getHandle(id).terminate('closed by the archive test');
  return id;
}

it('creates the archive Schedule idempotently', async () => {
  await ensureArchiveSchedule(stack.temporal, stack.config.TEMPORAL_TASK_QUEUE);
  await ensureArchiveSchedule(stack.temporal, `${stack.config.TEMPORAL_TASK_QUEUE}-archive`);
  const described = await stack.temporal.schedule.getHandle(ARCHIVE_SCHEDULE_ID).describe();
  expect(described.action).toMatchObject({
    type: 'startWorkflow',
    workflowType: 'ArchiveClosedDeviations',
    taskQueue: `${stack.config.TEMPORAL_TASK_QUEUE}-archive`,
  });
  expect(described.spec.intervals?.[0]?.every).toBe(60_000);
  // The suite shares one dev server: leave no schedule behind to start sweeps in other tests.
  await stack.temporal.schedule.getHandle(ARCHIVE_SCHEDULE_ID).delete();
});

it('archives a closed deviation, and after Temporal deletes it still exports, replays and packages it', async () => {
  const id = await openAndClose();
  const live = await request(stack.app).get(`/deviations/${id}/history`).set(bearer(auditor.token)).expect(200);
  expect(live.headers['x-history-source']).toBe('temporal');

  // The scheduled workflow, run here on demand: visibility catches up within moments.
  const archived = await eventually(
    async () => {
      await stack.temporal.workflow.execute('ArchiveClosedDeviations', {
        workflowId: `archive-test-${id}`,
        taskQueue: `${stack.config.TEMPORAL_TASK_QUEUE}-archive`,
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      });
      const { rows } = await stack.pool.query<{ run_id: string; history: string; sha256: string; status: string }>(
        'SELECT run_id, history, sha256, status FROM workflow_archives WHERE workflow_id = $1',
        [id],
      );
      return rows.length ? rows : undefined;
    },
    60_000,
    1000,
  );
  expect(archived).toHaveLength(1);
  expect(archived[0]!.status).toBe('terminated');
  expect(sha256Hex(archived[0]!.history)).toBe(archived[0]!.sha256);
  expect(JSON.parse(live.text).runs[0].sha256).toBe(archived[0]!.sha256);
  await expect(stack.pool.query(`UPDATE workflow_archives SET status = 'completed' WHERE workflow_id = $1`, [id])).rejects.toThrow(
    /immutable/,
  );
  await expect(stack.pool.query('DELETE FROM workflow_archives WHERE workflow_id = $1', [id])).rejects.toThrow(/immutable/);
  const audit = await request(stack.app).get('/audit').set(bearer(auditor.token)).query({ deviation: id }).expect(200);
  expect(audit.body.items.map((r: { action: string }) => r.action)).toEqual(
    expect.arrayContaining(['POST /deviations', 'workflow_history.archived']),
  );

  await stack.temporal.workflowService.deleteWorkflowExecution({
    namespace: stack.config.TEMPORAL_NAMESPACE,
    workflowExecution: { workflowId: id },
  });
  await eventually(
    async () => {
      try {
        await stack.temporal.workflow.getHandle(id).describe();
        return undefined;
      } catch {
        return true;
      }
      // The dev server carries out a deletion asynchronously, about half a minute later.
    },
    90_000,
    1000,
  );

  // Export: the same bytes as before, now from the archive.
  const fromArchive = await request(stack.app).get(`/deviations/${id}/history`).set(bearer(auditor.token)).expect(200);
  expect(fromArchive.headers['x-history-source']).toBe('archive');
  expect(JSON.parse(fromArchive.text).runs).toEqual(JSON.parse(live.text).runs);
  const single = await request(stack.app).get(`/deviations/${id}/history`).set(bearer(auditor.token)).query({ run: 'latest' }).expect(200);
  expect(single.text).toBe(archived[0]!.history);

  // Replay from the archive.
  const replay = await request(stack.app).post(`/deviations/${id}/replay`).set(bearer(auditor.token)).expect(200);
  expect(replay.body).toMatchObject({ workflowId: id, deterministic: true, historySource: 'archive' });
  expect(replay.body.codeSha256).toMatch(/^[0-9a-f]{64}$/);

  // Evidence package from the archive, verified offline.
  const pkg = await request(stack.app)
    .get(`/deviations/${id}/evidence`)
    .set(bearer(auditor.token))
    .buffer(true)
    .parse((res, cb) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => cb(null, Buffer.concat(chunks)));
    })
    .expect(200);
  expect(pkg.headers['content-type']).toBe('application/zip');
  const zip = pkg.body as Buffer;
  const verification = verifyEvidencePackage(zip);
  expect(verification).toMatchObject({ ok: true, deviationId: id, problems: [] });
  const entries = readZip(zip);
  const names = [...entries.keys()].map((n) => n.slice(id.length + 1)).sort();
  expect(names).toEqual(
    expect.arrayContaining(['manifest.json', 'report.pdf', 'state.json', 'audit-trail.csv', 'holds.json', 'notifications.json']),
  );
  expect(names.some((n) => n.startsWith('history/run-001-'))).toBe(true);
  expect(entries.get(`${id}/report.pdf`)!.subarray(0, 5).toString()).toBe('%PDF-');
  const manifest = JSON.parse(entries.get(`${id}/manifest.json`)!.toString());
  // Terminated without a result and without Updates: the state is the workflow's input.
  expect(manifest).toMatchObject({ deviationId: id, historySource: 'archive', stateSource: 'input' });
  expect(entries.get(`${id}/${manifest.runs[0].file}`)!.toString()).toBe(archived[0]!.history);

  // The offline command agrees, and notices a changed file.
  const dir = path.join(root, '.tools', 'test-cache');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${id}-evidence.zip`);
  writeFileSync(file, zip);
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'scripts/audit.ts'), ...args], { encoding: 'utf8', cwd: root });
  const ok = cli('verify-package', file);
  expect(ok.stderr).toMatch(/intact/);
  expect(ok.status).toBe(0);

  const csvName = `${id}/audit-trail.csv`;
  // Rebuild with one changed file: stored entries are easiest to alter in place, so re-zip via yazl.
  const { ZipFile } = await import('yazl');
  const z = new ZipFile();
  for (const [name, data] of entries) z.addBuffer(name === csvName ? Buffer.concat([data, Buffer.from('1,forged\r\n')]) : data, name);
  z.end();
  const chunks: Buffer[] = [];
  for await (const c of z.outputStream) chunks.push(c as Buffer);
  writeFileSync(file, Buffer.concat(chunks));
  const bad = cli('verify-package', file);
  expect(bad.status).toBe(1);
  expect(bad.stderr).toMatch(/audit-trail\.csv: SHA-256 differs/);

  // The replay command on an exported file.
  const historyFile = path.join(dir, `${id}-history.json`);
  writeFileSync(historyFile, fromArchive.text);
  const replayed = cli('replay', '--file', historyFile);
  expect(replayed.stderr).toMatch(/verdict: deterministic/);
  expect(replayed.status).toBe(0);
}, 240_000);

it('sweeps only what closed since its watermark, moves the watermark, and lists every closed run once a day', async () => {
  const id = await openAndClose();
  await eventually(
    async () => {
      for await (const wf of stack.temporal.workflow.list({ query: `WorkflowId='${id}' AND ExecutionStatus!='Running'` }))
        return wf.closeTime;
      return undefined;
    },
    30_000,
    500,
  );
  const sweep = (kind: string) =>
    stack.temporal.workflow.execute('ArchiveClosedDeviations', {
      workflowId: `archive-${kind}-${id}`,
      taskQueue: `${stack.config.TEMPORAL_TASK_QUEUE}-archive`,
    });
  const setState = (archivedBefore: Date, fullSweepAt: Date) =>
    stack.pool.query(
      `INSERT INTO archive_sweep_state (archived_before, full_sweep_at) VALUES ($1, $2)
       ON CONFLICT (only_row) DO UPDATE SET archived_before = EXCLUDED.archived_before, full_sweep_at = EXCLUDED.full_sweep_at`,
      [archivedBefore, fullSweepAt],
    );
  const state = async () =>
    (
      await stack.pool.query<{ archived_before: Date; full_sweep_at: Date }>(
        'SELECT archived_before, full_sweep_at FROM archive_sweep_state',
      )
    ).rows[0]!;
  const isArchived = async () => Boolean((await stack.pool.query('SELECT 1 FROM workflow_archives WHERE workflow_id = $1', [id])).rowCount);

  // A watermark past the deviation's close, and a full sweep done lately: the sweep does not list it,
  // and leaves the watermark a little before its own start.
  const lastFull = new Date(Date.now() - 60_000);
  await setState(new Date(Date.now() + 3_600_000), lastFull);
  const started = Date.now();
  await sweep('incremental');
  expect(await isArchived()).toBe(false);
  const moved = await state();
  expect(moved.archived_before.getTime()).toBeGreaterThanOrEqual(started - VISIBILITY_LAG_MS - 5_000);
  expect(moved.archived_before.getTime()).toBeLessThanOrEqual(Date.now() - VISIBILITY_LAG_MS);
  expect(moved.full_sweep_at).toEqual(lastFull);

  // The same watermark, but the last full sweep a day ago: this one lists every closed run, and archives it.
  await setState(new Date(Date.now() + 3_600_000), new Date(Date.now() - FULL_SWEEP_EVERY_MS - 60_000));
  const fullStarted = Date.now();
  await sweep('full');
  expect(await isArchived()).toBe(true);
  expect((await state()).full_sweep_at.getTime()).toBeGreaterThanOrEqual(fullStarted - 5_000);
}, 120_000);

it('keeps the evidence for auditors and QA: other roles are refused', async () => {
  const production = await signedInUser(stack.app, stack.pool, { roles: ['production'] });
  await request(stack.app).get('/deviations/DEV-1999-999998/history').expect(401);
  await request(stack.app).get('/deviations/DEV-1999-999998/evidence').set(bearer(production.token)).expect(403);
});

it('answers 404 problem+json for a deviation neither in Temporal nor archived', async () => {
  const res = await request(stack.app).get('/deviations/DEV-1999-999998/history').set(bearer(auditor.token)).expect(404);
  expect(res.headers['content-type']).toMatch(/problem\+json/);
  await request(stack.app).post('/deviations/DEV-1999-999998/replay').set(bearer(auditor.token)).expect(404);
  await request(stack.app).get('/deviations/DEV-1999-999998/evidence').set(bearer(auditor.token)).expect(404);
});
