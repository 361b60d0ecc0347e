import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Pool, PoolClient, Queryable } from '../db/pool';
import { AT_ONCE, after, startRounds, type BackgroundRounds } from '../lib/background-rounds';
import type { Logger } from '../lib/logger';
import type { DeviationWorkflow } from '../workflows/deviation';
import type { DeviationInput } from '../workflows/types';

/**
 * The workflow starts of deviations opened through the API: an outbox. Opening a deviation commits
 * its holds, the record of the request and its start (a `deviation_starts` row) in one transaction,
 * and answers; the workflow is started from the row after that. So containment never waits for
 * Temporal (under a burst, nor while it is unreachable), and no hold is left without the deviation
 * that lifts or disposes of it: the row outlives a crash of the process, and a sweep starts what
 * is left. The deviation's number is its workflow ID, so a start carried out twice is one workflow.
 */

/** Records the deviation's start in the caller's transaction; false when its start was recorded before. */
export async function recordDeviationStart(client: PoolClient, input: DeviationInput): Promise<boolean> {
  const { rowCount } = await client.query(
    'INSERT INTO deviation_starts (deviation_id, input) VALUES ($1, $2) ON CONFLICT (deviation_id) DO NOTHING',
    [input.id, JSON.stringify(input)],
  );
  return rowCount === 1;
}

/** True while the deviation's start is recorded and its workflow not yet known to be started. */
export async function startWaiting(db: Queryable, deviationId: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM deviation_starts WHERE deviation_id = $1 AND started_at IS NULL', [deviationId]);
  return rowCount === 1;
}

export interface DeviationStartsOptions {
  pool: Pool;
  temporal: Client;
  taskQueue: string;
  log: Logger;
  /**
   * Starts in flight at once from this process. A burst's starts queue here rather than in the
   * Temporal client, so the requests that open deviations keep the pool and the CPU they need.
   */
  concurrency?: number;
}

export const DEFAULT_START_CONCURRENCY = 8;
/** How long one start may take before it counts as failed (the row waits for the sweep): Temporal away is not retried forever here. */
const START_TIMEOUT_MS = 10_000;
/** How old a waiting start must be before a sweep takes it (the process that recorded it starts it at once). */
export const LEFT_BEHIND_MS = 5_000;
const SWEEP_BATCH = 100;

export class DeviationStarts {
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly waitingForSlot: Array<() => void> = [];
  private running = 0;
  private marks: string[] = [];
  private marking: Promise<void> | null = null;
  private sweep: BackgroundRounds | null = null;
  private readonly concurrency: number;

  constructor(private readonly options: DeviationStartsOptions) {
    this.concurrency = options.concurrency ?? DEFAULT_START_CONCURRENCY;
  }

  /** Starts the workflow of a deviation whose start was just committed. A failure leaves the row to the sweep. */
  kick(input: DeviationInput): void {
    this.start(input).catch((err: unknown) => {
      if (!this.options.pool.ending)
        this.options.log.warn(
          { deviation: input.id, err: { message: (err as Error).message } },
          'workflow start failed; the sweep retries it',
        );
    });
  }

  /**
   * Makes sure the deviation's workflow exists before something asks it: waits for its start when it
   * is in flight here, carries out its start when it is recorded and waiting. True when there was a
   * start to wait for or carry out; false when none waits (the workflow started long ago, or never
   * was a deviation's).
   */
  async ensureStarted(deviationId: string): Promise<boolean> {
    const inFlight = this.inFlight.get(deviationId);
    if (inFlight) {
      await inFlight;
      return true;
    }
    const { rows } = await this.options.pool.query<{ input: DeviationInput }>(
      'SELECT input FROM deviation_starts WHERE deviation_id = $1 AND started_at IS NULL',
      [deviationId],
    );
    if (!rows[0]) return false;
    await this.start(rows[0].input);
    return true;
  }

  /** One start per deviation at a time from this process; a second caller waits for the first. */
  start(input: DeviationInput): Promise<void> {
    const existing = this.inFlight.get(input.id);
    if (existing) return existing;
    const started = this.inTurn(() => this.startNow(input)).finally(() => this.inFlight.delete(input.id));
    this.inFlight.set(input.id, started);
    return started;
  }

  /** Starts, every `everyMs`, the recorded starts left behind (their process stopped, or Temporal was away). */
  startSweep(everyMs = LEFT_BEHIND_MS, leftBehindMs = LEFT_BEHIND_MS): void {
    const { pool, log } = this.options;
    this.sweep ??= startRounds(
      async () => {
        const { rows } = await pool.query<{ input: DeviationInput }>(
          `SELECT input FROM deviation_starts
            WHERE started_at IS NULL AND opened_at < now() - make_interval(secs => $1)
            ORDER BY opened_at LIMIT $2`,
          [leftBehindMs / 1000, SWEEP_BATCH],
        );
        const outcomes = await Promise.allSettled(rows.filter((r) => !this.inFlight.has(r.input.id)).map((r) => this.start(r.input)));
        const failed = outcomes.filter((o) => o.status === 'rejected').length;
        if (failed && !pool.ending) log.warn({ failed, of: rows.length }, 'recorded workflow starts failed; retrying later');
        return rows.length === SWEEP_BATCH && failed === 0 ? AT_ONCE : after(everyMs);
      },
      {
        ending: () => pool.ending,
        onFailure: (err) => log.error({ err: { message: (err as Error).message } }, 'workflow start sweep failed'),
        afterFailureMs: everyMs,
      },
    );
  }

  /** No further sweep; resolves once every start in flight has ended. */
  async stop(): Promise<void> {
    await this.sweep?.stop();
    await Promise.allSettled([...this.inFlight.values()]);
  }

  private async startNow(input: DeviationInput): Promise<void> {
    const { temporal, taskQueue, pool, log } = this.options;
    try {
      // By the workflow's type (never its code, which runs only in the worker): its input is type-checked.
      const handle = await temporal.withDeadline(Date.now() + START_TIMEOUT_MS, () =>
        temporal.workflow.start<typeof DeviationWorkflow>('DeviationWorkflow', {
          workflowId: input.id,
          taskQueue,
          args: [input],
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          workflowIdConflictPolicy: 'FAIL',
          memo: { title: input.title },
        }),
      );
      log.info({ deviation: input.id, runId: handle.firstExecutionRunId }, 'deviation workflow started');
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) {
        const message = (err instanceof Error ? err.message : String(err)).slice(0, 1000);
        await pool
          .query('UPDATE deviation_starts SET attempts = attempts + 1, last_error = $2 WHERE deviation_id = $1', [input.id, message])
          .catch(() => undefined);
        throw err;
      }
    }
    await this.markStarted(input.id);
  }

  /** Starts that end together are marked in one statement. */
  private markStarted(deviationId: string): Promise<void> {
    this.marks.push(deviationId);
    this.marking ??= (async () => {
      await new Promise((resolve) => setImmediate(resolve));
      const ids = this.marks;
      this.marks = [];
      this.marking = null;
      await this.options.pool.query(
        'UPDATE deviation_starts SET started_at = now(), last_error = NULL WHERE deviation_id = ANY($1) AND started_at IS NULL',
        [ids],
      );
    })();
    return this.marking;
  }

  private async inTurn<T>(work: () => Promise<T>): Promise<T> {
    while (this.running >= this.concurrency) await new Promise<void>((resolve) => this.waitingForSlot.push(resolve));
    this.running++;
    try {
      return await work();
    } finally {
      this.running--;
      this.waitingForSlot.shift()?.();
    }
  }
}
