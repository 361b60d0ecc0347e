import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import request from 'supertest';
import { startDevServer, type DevServer } from '../../lib/dev-server';
import { newDeviationRequest } from '../helpers/fixtures';
import { completedAttempts } from './helpers';
import { compressedPolicy, eventually, startStack, testConfig, type TestStack } from '../helpers/stack';
import { bearer, signedInUser } from '../helpers/users';

/**
 * The Temporal server is stopped while a deviation's containment clock runs, and started again on
 * the same SQLite file: the clock's timers come back with the server and fire, each once. People
 * get each reminder and the SLA breach once, late by the outage and no more.
 *
 * A dev server of this file's own (the suite's is shared with other files), with the compressed
 * policy: reminders 3 s and 5 s after detection, the breach at 8 s.
 */
let dir: string;
let server: DevServer;
let stack: TestStack;
let lead: Record<string, string>;

const startServer = (port?: number) =>
  startDevServer({
    cli: process.env.TEMPORAL_CLI!,
    headless: true,
    dbFile: path.join(dir, 'temporal.db'),
    ...(port ? { port } : {}),
    startTimeoutMs: 90_000,
  });

beforeAll(async () => {
  // The worker's polls fail while the server is down, by design here: no warning per retry.
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } },
  });
  dir = mkdtempSync(path.join(tmpdir(), 'temporal-restart-'));
  server = await startServer();
  stack = await startStack({ config: testConfig({ TEMPORAL_ADDRESS: server.address }), policy: compressedPolicy() });
  lead = bearer((await signedInUser(stack.app, stack.pool, { roles: ['qa_lead'] })).token);
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * The deviation's history: which timers started and fired, and how many notifications it wrote
 * (local activities since patched('local-activities-in-turn'): a marker each, which records the activity's
 * type but not its input).
 */
async function record(id: string) {
  const events = (await stack.temporal.workflow.getHandle(id).fetchHistory()).events ?? [];
  const timersStarted = events.flatMap((e) => (e.timerStartedEventAttributes ? [e.timerStartedEventAttributes.timerId!] : []));
  const timersFired = events.flatMap((e) =>
    e.timerFiredEventAttributes ? [{ timer: e.timerFiredEventAttributes.timerId!, at: Number(e.eventTime!.seconds) * 1000 }] : [],
  );
  const notificationsWritten = (await completedAttempts(stack.temporal, id)).notify?.length ?? 0;
  return { timersStarted, timersFired, notificationsWritten };
}

it('a dev server stopped during the containment clock and restarted on its file: every timer fires once, nothing is repeated', async () => {
  const id = (await request(stack.app).post('/deviations').set(lead).send(newDeviationRequest()).expect(201)).body.id as string;
  const started = await eventually(async () => {
    const s = (await request(stack.app).get(`/deviations/${id}`).set(lead).expect(200)).body.deviation;
    return s.containment.actionsCompletedAt ? s : undefined;
  });
  // The clock is waiting on a timer: started, not fired.
  const before = await record(id);
  const pending = before.timersStarted.filter((t) => !before.timersFired.some((f) => f.timer === t));
  expect(pending).toHaveLength(1);

  await server.stop();
  const stoppedAt = Date.now();
  expect(stoppedAt).toBeLessThan(Date.parse(started.containment.dueAt));
  // Down until every moment of the clock (both reminders, the breach) has passed.
  await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(started.containment.dueAt) + 2_000 - Date.now())));
  server = await startServer(Number(server.address.split(':')[1]));
  const restartedAt = Date.now();

  const breached = await eventually(async () => {
    const s = (await request(stack.app).get(`/deviations/${id}`).set(lead).expect(200)).body.deviation;
    return s.slaBreaches.length ? s : undefined;
  }, 60_000);
  // The breach is recorded once the server is back: not lost, not before its time.
  expect(Date.parse(breached.containment.slaBreachedAt)).toBeGreaterThanOrEqual(restartedAt - 1_000);

  // Let anything that would repeat have its chance, then read the record.
  await new Promise((r) => setTimeout(r, 3_000));
  const after = await record(id);
  // The timer pending at the stop fired, once, after the restart; no timer fired twice.
  const fired = after.timersFired.filter((f) => f.timer === pending[0]);
  expect(fired).toHaveLength(1);
  expect(fired[0]!.at).toBeGreaterThanOrEqual(Math.floor(restartedAt / 1000) - 1);
  expect(new Set(after.timersFired.map((f) => f.timer)).size).toBe(after.timersFired.length);
  // Each reminder and the breach once in the outbox, and each notification written once in the history.
  const { rows } = await stack.pool.query<{ dedupe_key: string }>(
    `SELECT dedupe_key FROM notifications WHERE deviation_id = $1 AND kind IN ('containment_reminder', 'escalation')`,
    [id],
  );
  expect(rows.map((r) => r.dedupe_key).sort()).toEqual(
    [`${id}:containment:escalation`, `${id}:containment:reminder:1`, `${id}:containment:reminder:2`].sort(),
  );
  // (the alert is written with the holds, by placeHoldsAndAlert; every other notification by notify)
  const { rows: written } = await stack.pool.query(`SELECT 1 FROM notifications WHERE deviation_id = $1 AND kind <> 'containment_alert'`, [
    id,
  ]);
  expect(after.notificationsWritten).toBe(written.length);
  const s = (await request(stack.app).get(`/deviations/${id}`).set(lead).expect(200)).body.deviation;
  expect(s.containment.remindersSent).toBe(2);
  expect(s.slaBreaches).toHaveLength(1);
  expect(s.containment.holds).toHaveLength(1);
  expect((await stack.pool.query('SELECT lot FROM holds WHERE deviation_id = $1', [id])).rows).toHaveLength(1);
}, 150_000);
