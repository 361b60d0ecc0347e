import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, DefaultLogger, type Worker } from '@temporalio/worker';
import type { Express } from 'express';
import { createApp } from '../../api/app';
import { createPool, type Pool } from '../../db/pool';
import { loadConfig, type AppConfig } from '../../lib/config';
import { createLogger } from '../../lib/logger';
import { createWorker } from '../../worker/create-worker';

let runtimeInstalled = false;
/** The SDK's runtime logs to the console by default; tests keep only warnings and errors. */
export function quietTemporalRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // already installed by an earlier helper in this process
  }
}

export function testConfig(overrides: Partial<Record<string, string>> = {}): AppConfig {
  return loadConfig({
    ...process.env,
    NODE_ENV: 'test',
    // One task queue per test file: workers of parallel test files never take each other's tasks.
    TEMPORAL_TASK_QUEUE: `test-${randomUUID()}`,
    PORT: '0',
    ...overrides,
  });
}

export function workflowBundle(): { code: string } {
  const path = process.env.TEST_WORKFLOW_BUNDLE;
  if (!path) throw new Error('TEST_WORKFLOW_BUNDLE is not set: run the tests through jest (global setup)');
  return { code: readFileSync(path, 'utf8') };
}

export interface TestWorker {
  worker: Worker;
  running: Promise<void>;
  stop(): Promise<void>;
}

export async function startWorker(config: AppConfig, pool: Pool): Promise<TestWorker> {
  quietTemporalRuntime();
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const worker = await createWorker({
    connection,
    pool,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    workflowBundle: workflowBundle(),
  });
  const running = worker.run();
  return {
    worker,
    running,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
    },
  };
}

export interface TestStack {
  config: AppConfig;
  pool: Pool;
  temporal: Client;
  app: Express;
  worker: TestWorker | null;
  stop(): Promise<void>;
}

/** The API app and (optionally) a worker, on the suite's dev server and database. */
export async function startStack(opts: { worker?: boolean; config?: AppConfig } = {}): Promise<TestStack> {
  const config = opts.config ?? testConfig();
  const pool = createPool(config.DATABASE_URL, 5);
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const app = createApp({ config, pool, temporal, log: createLogger('api-test', 'silent') });
  const worker = opts.worker === false ? null : await startWorker(config, pool);
  const stack: TestStack = {
    config,
    pool,
    temporal,
    app,
    worker,
    async stop() {
      await stack.worker?.stop();
      await connection.close();
      await pool.end();
    },
  };
  return stack;
}

/** Polls until `probe` returns a value (not undefined) or the time runs out. */
export async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 20_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms${lastError ? `: ${String(lastError)}` : ''}`);
}
