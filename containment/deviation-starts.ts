import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { AuditEntry } from '../audit/trail';
import type { Pool, PoolClient, Queryable } from '../db/pool';
import { AT_ONCE, after, startRounds, type BackgroundRounds } from '../lib/background-rounds';
import type { Logger } from '../lib/logger';
import type { DeviationWorkflow } from '../workflows/deviation';
import type { DeviationInput } from '../workflows/types';
import { holdPlacedAudit, placeDistributionHolds, type PlacedHold } from './distribution-holds';

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

/**
 * The opening of a deviation, in the caller's transaction and one statement: its start recorded and a
 * distribution hold placed on each of its batches (by `system`, for `reason`). Answers the holds, in
 * the order of the batches, with the audit-trail rows for the caller to append in the same
 * transaction; null when the deviation's start was recorded before (nothing is written then).
 */
export async function recordOpening(
  client: PoolClient,
  input: DeviationInput,
  reason: string,
): Promise<{ holds: PlacedHold[]; audits: AuditEntry[] } | null> {
  const { rows } = await client.query<{ id: string | null; lot: string | null; placed_at: Date | null }>(
    `WITH started AS (
       INSERT INTO deviation_starts (deviation_id, input) VALUES ($1, $2)
       ON CONFLICT (deviation_id) DO NOTHING
       RETURNING deviation_id
     ), held AS (
       INSERT INTO holds (deviation_id, lot, reason, placed_by)
       SELECT started.deviation_id, w.lot, $4, 'system' FROM started, unnest($3::text[]) WITH ORDINALITY AS w(lot, n) ORDER BY w.n
       ON CONFLICT (deviation_id, lot) DO NOTHING
       RETURNING id::text, lot, placed_at
     )
     SELECT NULL AS id, NULL AS lot, NULL::timestamptz AS placed_at FROM started
     UNION ALL
     SELECT id, lot, placed_at FROM held`,
    [input.id, JSON.stringify(input), input.batches, reason],
  );
  if (rows.length === 0) return null;
  const placed = new Map(rows.filter((r) => r.id !== null).map((r) => [r.lot!, { id: r.id!, lot: r.lot!, placed_at: r.placed_at! }]));
  // A hold already there (placed for this number before its start was recorded): found, not placed again.
  if (input.batches.some((lot) => !placed.has(lot)))
    return placeDistributionHolds(client, { deviationId: input.id, lots: input.batches, reason, placedBy: 'system' });
  const held = input.batches.map((lot) => placed.get(lot)!);
  return {
    holds: held.map((r) => ({ lot: r.lot, holdId: `H${r.id}`, placedAt: r.placed_at.toISOString() })),
    audits: held.map((r) => holdPlacedAudit(r, { deviationId: input.id, reason, placedBy: 'system' })),
  };
}

/** True while the deviation's start is recorded and its workflow not yet known to be started. */
export async function startWaiting(db: Queryable, deviationId: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM deviation_starts WHERE deviation_id = $1 AND started_at IS NULL', [deviationId]);
  return rowCount === 1;
}

/**
 * Starts the deviation's workflow, its number as the workflow ID: its run ID, or null when it had
 * been started already (the same deviation). Gives up after `timeoutMs`.
 */
export async function startDeviationWorkflow(
  temporal: Client,
  taskQueue: string,
  input: DeviationInput,
  timeoutMs: number,
): Promise<string | null> {
  try {
    // By the workflow's type (never its code, which runs only in the worker): its input is type-checked.
    const handle = await temporal.withDeadline(Date.now() + timeoutMs, () =>
      temporal.workflow.start<typeof DeviationWorkflow>('DeviationWorkflow', {
        workflowId: input.id,
        taskQueue,
        args: [input],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        workflowIdConflictPolicy: 'FAIL',
        memo: { title: input.title },
      }),
    );
    return handle.firstExecutionRunId;
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return null;
    throw err;
  }
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
/** How long a start waits for the openings in progress before it goes anyway (one at a time). */
export const OPENINGS_FIRST_MS = 1_000;
/** How long one start may take before it counts as failed (the row waits for the sweep): Temporal away is not retried forever here. */
const START_TIMEOUT_MS = 10_000;
/** How old a waiting start must be before a sweep takes it (the process that recorded it starts it at once). */
export const LEFT_BEHIND_MS = 5_000;
const SWEEP_BATCH = 100;

export class DeviationStarts {
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly waitingForSlot: Array<() => void> = [];
  private running = 0;
  private openings = 0;
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
      const runId = await startDeviationWorkflow(temporal, taskQueue, input, START_TIMEOUT_MS);
      if (runId) log.info({ deviation: input.id, runId }, 'deviation workflow started');
    } catch (err) {
      const message = (err instanceof Error ? err.message : String(err)).slice(0, 1000);
      await pool
        .query('UPDATE deviation_starts SET attempts = attempts + 1, last_error = $2 WHERE deviation_id = $1', [input.id, message])
        .catch(() => undefined);
      throw err;
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

  /**
   * Runs the opening of a deviation (its holds and its recorded start). While openings are in
   * progress, starts wait, up to OPENINGS_FIRST_MS each and then one at a time: under a burst the
   * openings, which place the holds, have the machine first, and the workflows (the paperwork, whose
   * clocks run from detection, not from their start) follow.
   */
  async opening<T>(work: () => Promise<T>): Promise<T> {
    this.openings++;
    try {
      return await work();
    } finally {
      this.openings--;
      if (this.openings === 0) this.wakeAll();
    }
  }

  private slots(queuedAt: number): number {
    if (this.openings === 0) return this.concurrency;
    return Date.now() - queuedAt >= OPENINGS_FIRST_MS ? 1 : 0;
  }

  private async inTurn<T>(work: () => Promise<T>): Promise<T> {
    const queuedAt = Date.now();
    while (this.running >= this.slots(queuedAt)) {
      await new Promise<void>((resolve) => {
        this.waitingForSlot.push(resolve);
        // Openings go first only for so long: the wait ends then, and the slots are counted again.
        const untilDue = queuedAt + OPENINGS_FIRST_MS - Date.now();
        if (this.openings > 0 && untilDue > 0) setTimeout(resolve, untilDue).unref();
      });
    }
    this.running++;
    try {
      return await work();
    } finally {
      this.running--;
      this.wakeAll();
    }
  }

  /** Every waiting start counts the slots again (a handful at most get one). */
  private wakeAll(): void {
    for (const wake of this.waitingForSlot.splice(0)) wake();
  }
}
