import { NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { createActivities, type ActivityDeps } from '../activities';
import { createArchiveActivities } from '../audit/archive';

export const WORKFLOWS_PATH = require.resolve('../workflows');

export interface WorkerOptions extends ActivityDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  /** A prebuilt bundle (tests build it once per run); otherwise the worker bundles workflows/ itself. */
  workflowBundle?: WorkflowBundleOption;
  identity?: string;
  /** A client of the same cluster, for the archive activities (they read closed workflows' histories). */
  temporal?: Client;
}

export async function createWorker(options: WorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    ...(options.identity ? { identity: options.identity } : {}),
    activities: {
      ...createActivities(options),
      ...(options.temporal ? createArchiveActivities({ pool: options.pool, temporal: options.temporal }) : {}),
    },
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
  });
}
