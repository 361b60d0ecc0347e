/**
 * The whole product as the deviation benchmarks run it: a database of their own (created, migrated,
 * dropped at the end), a Temporal dev server of their own (in memory), and the product's worker and
 * API as the processes `npm start` runs (worker/main.ts, api/main.ts with the API's heap flags), so
 * that their peak RSS is theirs alone and nothing of the benchmark runs inside them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { Client as PgClient } from 'pg';
import { API_HEAP_FLAGS } from '../api/heap';
import { createUser } from '../auth/users';
import { migrate } from '../db/migrate';
import { createPool, type Pool } from '../db/pool';
import type { UserRole } from '../domain/roles';
import { freePort, startDevServer, type DevServer } from '../lib/dev-server';
import { temporalBinaries } from '../lib/temporal-binaries';

export const root = path.resolve(__dirname, '..');
export const log = (msg: string): void => {
  process.stdout.write(`[bench] ${msg}\n`);
};

export interface ProductProcess {
  name: string;
  child: ChildProcess;
  /** Peak and current resident set size in bytes, from the kernel (null where /proc is missing). */
  memory(): { peakRss: number; rss: number } | null;
}

export interface ProductStack {
  databaseUrl: string;
  databaseName: string;
  temporalAddress: string;
  taskQueue: string;
  apiUrl: string;
  pool: Pool;
  api: ProductProcess;
  worker: ProductProcess;
  /** The Temporal dev server's process ID, for its CPU time (bench/process-cpu.ts). */
  temporalPid: number | undefined;
  /** Where the processes' output went (it is the first thing to read when a run fails). */
  logFile: string;
  /** The worker and the API write CPU profiles (BENCH_CPU_PROFILE): the figures are not results. */
  profiled: boolean;
  stop(): Promise<void>;
}

export interface StackOptions {
  /** Names the database and the log file: gxp_bench_<task>_<time>. */
  task: string;
  /** The policy file the worker and API run with; the production policy when absent. */
  policyFile?: string;
  /** How long the worker may take to bundle the workflows and poll (a busy machine is slow). */
  readyTimeoutMs?: number;
}

function kernelMemory(pid: number | undefined): { peakRss: number; rss: number } | null {
  if (pid === undefined) return null;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    const peakRss = kib('VmHWM');
    const rss = kib('VmRSS');
    return Number.isFinite(peakRss) && Number.isFinite(rss) ? { peakRss, rss } : null;
  } catch {
    return null;
  }
}

/**
 * BENCH_CPU_PROFILE=<folder>: the worker and the API write V8 CPU profiles there when they stop
 * (open them in Chrome's DevTools). Profiling slows both, so a profiled run's figures are for
 * finding where time goes, never for the results.
 */
function profileFlags(): string[] {
  const dir = process.env.BENCH_CPU_PROFILE;
  if (!dir) return [];
  mkdirSync(dir, { recursive: true });
  log(`CPU profiles of the worker and the API go to ${dir}: this run's figures are not results`);
  return ['--cpu-prof', `--cpu-prof-dir=${path.resolve(dir)}`];
}

function launch(name: string, entry: string, nodeFlags: readonly string[], env: NodeJS.ProcessEnv, out: WriteStream): ProductProcess {
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', path.join(root, entry)], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = (d: Buffer) => d.toString().replace(/^(?=.)/gm, `${name}| `);
  child.stdout?.on('data', (d: Buffer) => out.write(prefix(d)));
  child.stderr?.on('data', (d: Buffer) => out.write(prefix(d)));
  return { name, child, memory: () => kernelMemory(child.pid) };
}

async function stopProcess(p: ProductProcess): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = once(p.child, 'exit');
  p.child.kill('SIGTERM');
  const killer = setTimeout(() => p.child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(killer);
}

/** Waits for GET /health to answer 200: PostgreSQL, Temporal and a worker polling the task queue. */
async function waitForHealth(apiUrl: string, timeoutMs: number, processes: ProductProcess[]): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const dead = processes.find((p) => p.child.exitCode !== null || p.child.signalCode !== null);
    if (dead) throw new Error(`the ${dead.name} exited during start-up (${dead.child.exitCode ?? dead.child.signalCode})`);
    try {
      const res = await fetch(`${apiUrl}/health`, { signal: AbortSignal.timeout(5000) });
      last = `${res.status} ${await res.text()}`;
      if (res.status === 200) return;
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the product did not become healthy within ${timeoutMs} ms: ${last}`);
}

export async function startProductStack(opts: StackOptions): Promise<ProductStack> {
  const adminUrl = process.env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const stamp = Date.now().toString(36);
  const databaseName = `gxp_bench_${opts.task.replace(/[^a-z0-9]/gi, '_')}_${stamp}`;
  const dbUrl = new URL(adminUrl);
  dbUrl.pathname = `/${databaseName}`;
  const databaseUrl = dbUrl.toString();
  const logDir = path.join(root, '.data', 'bench');
  mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, `${opts.task}-${stamp}.log`);
  const out = createWriteStream(logFile);

  const cleanups: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err: unknown) => log(`clean-up failed: ${String(err)}`));
    cleanups.length = 0;
    out.end();
  };
  try {
    log(`database ${databaseName}: migrating`);
    cleanups.push(async () => {
      if (process.env.BENCH_KEEP_DB === '1') return log(`database ${databaseName} kept (BENCH_KEEP_DB=1)`);
      const admin = new PgClient({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "${databaseName}" WITH (FORCE)`);
      await admin.end();
    });
    await migrate(databaseUrl);
    const pool = createPool(databaseUrl, 4);
    cleanups.push(() => pool.end());

    log('starting a Temporal dev server of its own (in memory)');
    const devServer: DevServer = await startDevServer({
      cli: temporalBinaries().cli,
      headless: true,
      log: (line) => out.write(`temporal| ${line}`),
    });
    cleanups.push(() => devServer.stop());

    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      PORT: String(port),
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: devServer.address,
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TASK_QUEUE: 'deviations',
      AUDIT_HMAC_KEY: randomBytes(32).toString('hex'),
    };
    delete env.POLICY_FILE;
    delete env.NOTIFICATION_WEBHOOK_URL;
    if (opts.policyFile) env.POLICY_FILE = opts.policyFile;

    log('starting the worker and the API (worker/main.ts, api/main.ts)');
    const profiling = profileFlags();
    const worker = launch('worker', 'worker/main.ts', profiling, env, out);
    cleanups.push(() => stopProcess(worker));
    const api = launch('api', 'api/main.ts', [...API_HEAP_FLAGS, ...profiling], env, out);
    cleanups.push(() => stopProcess(api));
    const apiUrl = `http://127.0.0.1:${port}`;
    await waitForHealth(apiUrl, opts.readyTimeoutMs ?? 300_000, [worker, api]);
    log(`healthy: API ${apiUrl}, Temporal ${devServer.address}; process output in ${path.relative(root, logFile)}`);

    return {
      databaseUrl,
      databaseName,
      temporalAddress: devServer.address,
      taskQueue: 'deviations',
      apiUrl,
      pool,
      api,
      worker,
      temporalPid: devServer.process.pid,
      logFile,
      profiled: profiling.length > 0,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Stops the stack on Ctrl+C too, so an interrupted run leaves no process or database behind. */
export function stopOnSignals(stack: () => ProductStack | null): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping`);
      void (stack()?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
    });
  }
}

export interface ApiAnswer {
  status: number;
  body: unknown;
  ms: number;
}

/** One JSON request, timed from sending to the last byte of the answer. */
export async function call(
  apiUrl: string,
  method: string,
  url: string,
  opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<ApiAnswer> {
  const started = performance.now();
  const res = await fetch(new URL(url, apiUrl), {
    method,
    headers: {
      'content-type': 'application/json',
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...opts.headers,
    },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  const ms = performance.now() - started;
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text for the error message
  }
  return { status: res.status, body, ms };
}

export function expectStatus(what: string, answer: ApiAnswer, status: number): void {
  if (answer.status !== status) throw new Error(`${what}: HTTP ${answer.status} ${JSON.stringify(answer.body).slice(0, 500)}`);
}

export interface BenchUser {
  login: string;
  password: string;
  token: string;
}

/** People with one role, created in the database and signed in through the API (as a person would). */
export async function signedInUsers(stack: ProductStack, role: UserRole, count: number): Promise<BenchUser[]> {
  const tag = randomBytes(3).toString('hex');
  const users: BenchUser[] = [];
  for (let i = 0; i < count; i++) {
    const login = `bench-${role.replace(/_/g, '-')}-${tag}-${i + 1}`;
    const password = `Pw-${randomBytes(12).toString('hex')}`;
    await createUser(stack.pool, { login, password, printedName: `Bench ${role} ${i + 1}`, email: `${login}@example.com`, roles: [role] });
    const answer = await call(stack.apiUrl, 'POST', '/auth/login', { body: { login, password } });
    expectStatus(`sign-in of ${login}`, answer, 200);
    users.push({ login, password, token: (answer.body as { token: string }).token });
  }
  return users;
}

/** A request to open a deviation with a batch of its own (the shape of the README's example). */
export function deviationRequest(n: number, runTag: string): Record<string, unknown> {
  const symptoms = ['duplicate_serials', 'aggregation_error', 'missing_report', 'lost_packaging'];
  const severities = ['major', 'critical', 'minor'];
  return {
    title: `Benchmark deviation ${n}`,
    symptom: symptoms[n % symptoms.length],
    severity: severities[n % severities.length],
    batches: [`B${runTag}${String(n).padStart(6, '0')}`],
    description: 'Opened by the benchmark: the aggregation report of the batch disagrees with its commissioning.',
  };
}

/** Runs `task` for each item with at most `concurrency` at once, each client taking the next item when done. */
export async function withClients<T>(
  items: readonly T[],
  concurrency: number,
  task: (item: T, client: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async (_, client) => {
      for (let i = next++; i < items.length; i = next++) await task(items[i]!, client);
    }),
  );
}

export const mb = (bytes: number | undefined | null) => (bytes === undefined || bytes === null ? null : Math.round(bytes / 2 ** 20));

/**
 * The machine's 1-, 5- and 15-minute load averages: on a machine shared with other work, figures
 * measured at a load of 20 on two cores mean something else than at a load of 1.
 */
export const loadAverage = (): number[] => os.loadavg().map((x) => Math.round(x * 100) / 100);
