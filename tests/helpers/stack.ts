import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { quietTemporalRuntime, workflowBundle } from './bundle';

export { quietTemporalRuntime, workflowBundle };
import type { Express } from 'express';
import { createApp } from '../../api/app';
import { createPool, type Pool } from '../../db/pool';
import { loadConfig, type AppConfig } from '../../lib/config';
import { createLogger } from '../../lib/logger';
import { createWorker } from '../../worker/create-worker';
import type { Policy } from '../../domain/policy';
import { loadPolicy } from '../../lib/policy';

/** Compresses an hour into seconds, for lifecycle tests on the dev server. */
export const compressedPolicy = (): Policy => loadPolicy(require.resolve('../../policies/compressed.json'));

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

export interface TestWorker {
  /** The Worker of the deviation task queue (the slow queue's runs and stops with it). */
  worker: Worker;
  running: Promise<void>;
  stop(): Promise<void>;
}

export async function startWorker(config: AppConfig, pool: Pool): Promise<TestWorker> {
  quietTemporalRuntime();
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const workers = await createWorker({
    connection,
    pool,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    workflowBundle: workflowBundle(),
  });
  const running = workers.run();
  return {
    worker: workers.main,
    running,
    async stop() {
      workers.shutdown();
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
export async function startStack(opts: { worker?: boolean; config?: AppConfig; policy?: Policy } = {}): Promise<TestStack> {
  const config = opts.config ?? testConfig();
  const pool = createPool(config.DATABASE_URL, 5);
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const app = createApp({ config, pool, temporal, log: createLogger('api-test', 'silent'), policy: opts.policy });
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

export { eventually } from './eventually';
