import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { API_HEAP_FLAGS } from '../../api/heap';
import { ARCHIVE_SCHEDULE_ID } from '../../audit/archive-schedule';
import { freePort } from '../../lib/dev-server';

/** The database URL with an application_name, so a process's connections can be told apart in pg_stat_activity. */
export function databaseUrlNamed(databaseUrl: string, applicationName: string): string {
  const url = new URL(databaseUrl);
  url.searchParams.set('application_name', applicationName);
  return url.toString();
}

/**
 * Per activity type, the attempt on which each of its completed activities succeeded, in the order
 * they were scheduled (activities) or completed (local activities, read from their markers).
 */
export async function completedAttempts(temporal: Client, workflowId: string): Promise<Record<string, number[]>> {
  const events = (await temporal.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const typeOf = new Map<number, string>();
  const attemptOf = new Map<number, number>();
  const completed: Record<string, number[]> = {};
  for (const e of events) {
    const id = Number(e.eventId);
    if (e.activityTaskScheduledEventAttributes) typeOf.set(id, e.activityTaskScheduledEventAttributes.activityType?.name ?? '?');
    if (e.activityTaskStartedEventAttributes) attemptOf.set(id, e.activityTaskStartedEventAttributes.attempt ?? 0);
    const done = e.activityTaskCompletedEventAttributes;
    if (done) {
      const type = typeOf.get(Number(done.scheduledEventId)) ?? '?';
      (completed[type] ??= []).push(attemptOf.get(Number(done.startedEventId)) ?? 0);
    }
    const marker = e.markerRecordedEventAttributes;
    const data = marker?.markerName === 'core_local_activity' && !marker.failure ? marker.details?.data?.payloads?.[0]?.data : undefined;
    if (data) {
      const { activity_type: type, attempt } = JSON.parse(Buffer.from(data).toString('utf8')) as { activity_type: string; attempt: number };
      (completed[type] ??= []).push(attempt);
    }
  }
  return completed;
}

const root = path.resolve(__dirname, '../..');

/** A product process (worker/main.ts, api/main.ts) started by a test, as an operator's supervisor runs it. */
export interface ServiceProcess {
  readonly child: ChildProcess;
  /** What it printed (the last 256 kB), for a failure's message. */
  output(): string;
  /** Resolves with the exit code, or the signal that ended it. */
  readonly exited: Promise<number | string>;
  /** kill -9: no handler runs, nothing is flushed or closed. */
  kill9(): Promise<void>;
  /** SIGTERM, the way an operator stops it; SIGKILL if it has not exited after 15 s. */
  stop(): Promise<void>;
}

/** The environment of a child process on the suite's Temporal server and database. */
export function serviceEnv(overrides: Record<string, string>): NodeJS.ProcessEnv {
  return { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'info', ...overrides };
}

function spawnService(entry: string, env: NodeJS.ProcessEnv, nodeFlags: readonly string[] = []): ServiceProcess {
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', path.join(root, entry)], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-256 * 1024));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  const ended = () => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    output: () => output,
    exited,
    async kill9() {
      if (!ended()) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (ended()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function readyOrThrow(service: ServiceProcess, what: string, ready: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (service.child.exitCode !== null || service.child.signalCode !== null) break;
    if (await ready().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  await service.stop();
  throw new Error(`${what} did not start within ${timeoutMs} ms:\n${service.output().slice(-4000)}`);
}

/**
 * `npm run worker`: worker/main.ts in a process of its own (it bundles the workflows itself, as in
 * production), ready once it logged that it polls its task queue. It also creates the archive
 * Schedule on the shared dev server: that is removed again once the worker is up, so the suite's
 * other files never see sweeps started on this file's task queue.
 */
export async function startWorkerProcess(temporal: Client, env: Record<string, string>, timeoutMs = 90_000): Promise<ServiceProcess> {
  const worker = spawnService('worker/main.ts', serviceEnv(env));
  await readyOrThrow(worker, 'the worker', async () => /"msg":"worker started"/.test(worker.output()), timeoutMs);
  await removeArchiveSchedule(temporal, env.TEMPORAL_TASK_QUEUE!);
  return worker;
}

async function removeArchiveSchedule(temporal: Client, taskQueue: string): Promise<void> {
  const handle = temporal.schedule.getHandle(ARCHIVE_SCHEDULE_ID);
  const described = await handle.describe().catch(() => null);
  if (described?.action.type === 'startWorkflow' && described.action.taskQueue === taskQueue) await handle.delete().catch(() => undefined);
}

/** `npm run api`: api/main.ts in a process of its own on a free port, ready once it answers /health (whatever it says). */
export async function startApiProcess(env: Record<string, string>, timeoutMs = 60_000): Promise<ServiceProcess & { url: string }> {
  const port = await freePort();
  const api = spawnService('api/main.ts', serviceEnv({ ...env, PORT: String(port) }), API_HEAP_FLAGS);
  const url = `http://127.0.0.1:${port}`;
  await readyOrThrow(api, 'the API', async () => Boolean(await fetch(`${url}/health`)), timeoutMs);
  return Object.assign(api, { url });
}

const adminUrl = () => process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * A database of the file's own, migrated as `npm run migrate` does. A worker process delivers every
 * pending notification of its database: on the suite's shared database it would deliver (and mark
 * sent) other files' notifications, and a file that counts deliveries would count theirs.
 * Deviation numbers start at `firstDeviationNumber` (one range per file, above the fuzz's 900000),
 * so the workflow IDs never meet other files' on the shared dev server.
 */
export async function ownDatabase(prefix: string, firstDeviationNumber: number): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `gxp_test_${prefix}_${process.pid}_${Date.now().toString(36)}`;
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'scripts/migrate.ts')], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: url.toString() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`migrations failed (${code}): ${output}`))));
  });
  const client = new PgClient({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(`ALTER SEQUENCE deviation_number_seq RESTART WITH ${Number(firstDeviationNumber)}`);
  } finally {
    await client.end();
  }
  return {
    url: url.toString(),
    async drop() {
      if (process.env.KEEP_TEST_DATABASE) return;
      const admin = new PgClient({ connectionString: adminUrl() });
      await admin.connect();
      try {
        await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    },
  };
}
