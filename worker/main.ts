/** The worker process: runs deviation workflows and their activities until SIGINT/SIGTERM. */
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { loadConfigOrExit } from '../lib/config';
import { createLogger } from '../lib/logger';
import { createPool } from '../db/pool';
import { createWorker, SLOW_POOL_SIZE } from './create-worker';
import { loadPolicy } from '../lib/policy';
import { senderFromConfig, startNotificationDispatcher } from '../notifications/dispatcher';
import { connectTemporalClient, temporalConnectionOptions } from '../lib/temporal';
import { ensureArchiveSchedule } from '../audit/archive-schedule';

/**
 * The main Worker's connections: its local activities and activities (20 of each at most, short
 * writes of a few milliseconds, most of them taking turns on the audit trail's lock anyway), the
 * outbox dispatcher and the line monitors' evaluations.
 */
const WORKER_POOL_SIZE = 10;

/** Set when an operator asked the worker to stop; any other end of run() is a failure. */
let stopRequested = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => (stopRequested = true));

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger('worker', config.LOG_LEVEL);
  Runtime.install({
    logger: new DefaultLogger('INFO', ({ level, message, meta }) => {
      const method =
        level === 'TRACE' ? 'trace' : level === 'DEBUG' ? 'debug' : level === 'WARN' ? 'warn' : level === 'ERROR' ? 'error' : 'info';
      log[method]({ ...meta }, message);
    }),
    shutdownSignals: ['SIGINT', 'SIGTERM'],
  });
  // Holds, alerts, the read model, the ledger and the outbox write through `pool`; reconciliation,
  // trace and the searches read through `slowPool`, so they can never hold every connection
  // (docs/scale.md, "Holds first under a burst").
  const pool = createPool(config.DATABASE_URL, WORKER_POOL_SIZE);
  const slowPool = createPool(config.DATABASE_URL, SLOW_POOL_SIZE);
  // The outbox is delivered from the worker process; several workers share it without double delivery.
  const stopNotifications = startNotificationDispatcher(pool, senderFromConfig(config, log), log);
  const connection = await NativeConnection.connect(temporalConnectionOptions(config));
  // Closed deviations are archived in PostgreSQL every minute, so their records outlive Temporal's retention.
  const temporal = await connectTemporalClient(config);
  await ensureArchiveSchedule(temporal, config.TEMPORAL_TASK_QUEUE);
  const worker = await createWorker({
    connection,
    pool,
    slowPool,
    // The line monitors judge points and open deviations under the policy the API runs with.
    policy: loadPolicy(config.POLICY_FILE),
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    temporal,
  });
  log.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, namespace: config.TEMPORAL_NAMESPACE }, 'worker started');
  // Runtime's shutdown signals make run() resolve once in-flight tasks finish. A worker that
  // stops on its own (the SDK's core shut it down) must not look like a clean stop: it exits
  // non-zero so that whatever supervises it (npm start, the compose file, an orchestrator)
  // starts a new one, and /health reports no poller meanwhile.
  let failure: unknown = null;
  await worker.run().catch((err: unknown) => (failure = err));
  await stopNotifications();
  await connection.close();
  await temporal.connection.close();
  await Promise.all([pool.end(), slowPool.end()]);
  if (failure || !stopRequested) {
    log.error({ err: failure ? String(failure) : undefined }, 'worker stopped without being asked to; exiting for a restart');
    process.exit(1);
  }
  log.info('worker stopped');
}

main().catch((err: unknown) => {
  process.stderr.write(`${JSON.stringify({ level: 50, name: 'worker', msg: 'worker failed', err: String(err) })}\n`);
  process.exit(1);
});
