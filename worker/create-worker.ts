import { NativeConnection, Worker, type State, type WorkflowBundleOption } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { createActivities, type ActivityDeps } from '../activities';
import { createArchiveActivities } from '../activities/archive';
import type { Pool } from '../db/pool';
import type { AllActivities } from '../workflows/activity-contracts';
import { slowTaskQueueOf } from '../workflows/task-queues';

export const WORKFLOWS_PATH = require.resolve('../workflows');

export interface WorkerOptions extends ActivityDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  /**
   * The connections of the slow activities (reconciliation, trace, recurrence search, effectiveness),
   * so that they can never take every connection of `pool`, which the holds, the outbox and the read
   * model write through; by default `pool`.
   */
  slowPool?: Pool;
  /** A prebuilt bundle (tests build it once per run); otherwise the worker bundles workflows/ itself. */
  workflowBundle?: WorkflowBundleOption;
  identity?: string;
  /** A client of the same cluster, for the archive activities (they read closed workflows' histories). */
  temporal?: Client;
}

/**
 * The limits of the two Workers, chosen for a worker process on a small machine (2 cores) beside
 * PostgreSQL and Temporal; docs/scale.md ("Holds first under a burst") says how they were chosen
 * and what was measured.
 */
export const WORKER_LIMITS = {
  main: {
    /**
     * Workflow code runs on one thread; concurrent tasks overlap their waits on the server and on
     * the holds' local activities, which keep their task open while they write.
     */
    maxConcurrentWorkflowTaskExecutions: 40,
    /**
     * A burst of new deviations arrives on the normal queue, their later tasks on this worker's
     * sticky queue: half the pollers on each (the SDK's default gives the normal queue a fifth),
     * so the first task of a new deviation, the one that places its holds, does not wait behind
     * four later tasks of deviations already contained.
     */
    maxConcurrentWorkflowTaskPolls: 10,
    nonStickyToStickyPollRatio: 0.5,
    /**
     * Holds with their alert, and read-model snapshots: short writes, twice the pool's connections
     * so that one is always ready when a connection frees.
     */
    maxConcurrentLocalActivityExecutions: 20,
    /** Notifications, the signature ledger, disposals: short writes too. */
    maxConcurrentActivityTaskExecutions: 20,
    /**
     * Running deviations kept in memory (about 1 MB each): a burst of a few hundred stays cached
     * through containment; a deviation evicted later is replayed from its history at its next step
     * or timer, milliseconds for a history of a few hundred events.
     */
    maxCachedWorkflows: 500,
  },
  slow: {
    /**
     * Reconciliation and trace are PostgreSQL work over up to millions of rows, and each costs this
     * process CPU too: two at a time keep two cores busy without taking the urgent path's share;
     * more would not empty a backlog sooner on such a machine.
     */
    maxConcurrentActivityTaskExecutions: 2,
  },
} as const;

/**
 * The connections the slow Worker needs: one per activity it runs at once (reconciliation also
 * opens one of its own per run, for its temporary tables: at most as many again).
 */
export const SLOW_POOL_SIZE = WORKER_LIMITS.slow.maxConcurrentActivityTaskExecutions;

const SLOW_ACTIVITIES = ['findRecurrences', 'traceShipments', 'evaluateEffectiveness', 'reconcileBatch'] as const satisfies ReadonlyArray<
  keyof AllActivities
>;

/**
 * The worker process's Temporal Workers, run and stopped as one: `main` polls the deviation task
 * queue (workflows, and the short writes they wait on), `slow` the slow task queue
 * (workflows/task-queues.ts). When one stops, for whatever reason, the other is stopped too: a
 * process polling half its queues would look alive while its deviations wait.
 */
export interface DeviationWorkers {
  readonly main: Worker;
  readonly slow: Worker;
  /** Resolves when both have stopped; rejects with the first failure. */
  run(): Promise<void>;
  /** Runs both while `fn` runs, then stops them. */
  runUntil<R>(fn: () => Promise<R>): Promise<R>;
  /** Asks both to stop (in-flight tasks finish first); safe to call more than once. */
  shutdown(): void;
  /** The main Worker's state. */
  getState(): State;
}

export async function createWorker(options: WorkerOptions): Promise<DeviationWorkers> {
  const [main, slow] = await Promise.all([
    Worker.create({
      connection: options.connection,
      namespace: options.namespace,
      taskQueue: options.taskQueue,
      ...(options.identity ? { identity: options.identity } : {}),
      // Every activity, the slow ones too: a deviation that scheduled one on this queue before the
      // slow queue existed still finds a worker for it.
      activities: {
        ...createActivities(options),
        ...(options.temporal ? createArchiveActivities({ pool: options.pool, temporal: options.temporal }) : {}),
      },
      ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
      ...WORKER_LIMITS.main,
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
    }),
    Worker.create({
      connection: options.connection,
      namespace: options.namespace,
      taskQueue: slowTaskQueueOf(options.taskQueue),
      ...(options.identity ? { identity: `${options.identity}.slow` } : {}),
      activities: pick(createActivities({ ...options, pool: options.slowPool ?? options.pool }), SLOW_ACTIVITIES),
      ...WORKER_LIMITS.slow,
      disablePayloadErrorLimit: false,
    }),
  ]);
  const workers = [main, slow];
  const shutdown = () => {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
  };
  const run = async () => {
    const runs = workers.map((w) => w.run().finally(shutdown));
    const results = await Promise.allSettled(runs);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  };
  return {
    main,
    slow,
    run,
    async runUntil(fn) {
      const running = run();
      try {
        return await fn();
      } finally {
        shutdown();
        await running;
      }
    },
    shutdown,
    getState: () => main.getState(),
  };
}

function pick<T extends object, K extends keyof T>(all: T, keys: readonly K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((k) => [k, all[k]])) as Pick<T, K>;
}
