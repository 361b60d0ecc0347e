import { NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { createActivities, type ActivityDeps } from '../activities';
import { createArchiveActivities } from '../activities/archive';

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
    // One bad workflow must never take the others down, nor end its own record:
    // - no workflowFailureErrorTypes: an error in workflow code (a bug, a non-determinism) fails
    //   that workflow *task* only; Temporal retries it, and the deviation resumes once the code
    //   is fixed, instead of the regulated record being failed for good;
    // - payloads over the namespace's limit fail the task in the worker before they are sent
    //   (the default, kept on purpose), not the workflow;
    // - what the SDK's core cannot recover from (a failure it cannot encode) would shut the worker
    //   down: no caller's text reaches a failure unchecked (workflows/refusals.ts), and a worker
    //   that stops anyway exits non-zero to be restarted (worker/main.ts).
    workflowFailureErrorTypes: { '*': [] },
    disablePayloadErrorLimit: false,
  });
}
