import type { Client } from '@temporalio/client';
import type { Pool } from '../db/pool';
import { withTransaction } from '../db/pool';
import { fetchRun, type RunHistory } from './history';
import { afterSweep, MAX_RUNS_PER_SWEEP, sweepWindow, type RunRef, type SweepOutcome, type SweepState } from '../domain/archive-sweep';

export type { RunRef };
import { appendAudit } from './trail';

/**
 * The archive of closed workflow histories in PostgreSQL (migrations/0300). Temporal drops a
 * closed workflow after the namespace's retention; regulated records must outlive that, so every
 * closed run of a DeviationWorkflow — each continuation, and the change-control child workflows it
 * started — is copied here within minutes of closing, with its SHA-256.
 */
export const UNARCHIVED_QUERY = `WorkflowType='DeviationWorkflow' AND ExecutionStatus!='Running'`;

export interface ArchiveDeps {
  pool: Pool;
  temporal: Client;
}

const CLOSE_EVENT_STATUS: Record<string, string> = {
  workflowExecutionCompletedEventAttributes: 'completed',
  workflowExecutionFailedEventAttributes: 'failed',
  workflowExecutionTimedOutEventAttributes: 'timed_out',
  workflowExecutionCanceledEventAttributes: 'canceled',
  workflowExecutionTerminatedEventAttributes: 'terminated',
  workflowExecutionContinuedAsNewEventAttributes: 'continued_as_new',
};

function closeStatus(run: RunHistory): string | undefined {
  const last = run.history.events?.[run.history.events.length - 1];
  if (!last) return undefined;
  return Object.entries(CLOSE_EVENT_STATUS).find(([attr]) => (last as Record<string, unknown>)[attr])?.[1];
}

const toDate = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
  new Date(Number(t?.seconds ?? 0) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6));

/**
 * Closed DeviationWorkflow runs Temporal still has that the archive does not: those closed since
 * `closedSince`, or every one when it is null. At most `max` of them.
 */
export async function findUnarchivedRuns(deps: ArchiveDeps, max = MAX_RUNS_PER_SWEEP, closedSince: Date | null = null): Promise<RunRef[]> {
  const found: RunRef[] = [];
  let batch: RunRef[] = [];
  const flush = async () => {
    if (!batch.length) return;
    const { rows } = await deps.pool.query<{ run_id: string }>('SELECT run_id FROM workflow_archives WHERE run_id = ANY($1::text[])', [
      batch.map((r) => r.runId),
    ]);
    const archived = new Set(rows.map((r) => r.run_id));
    found.push(...batch.filter((r) => !archived.has(r.runId)));
    batch = [];
  };
  // (the time is formatted here from a Date, never from input: nothing else enters the query)
  const query = closedSince ? `${UNARCHIVED_QUERY} AND CloseTime >= '${closedSince.toISOString()}'` : UNARCHIVED_QUERY;
  for await (const wf of deps.temporal.workflow.list({ query })) {
    batch.push({ workflowId: wf.workflowId, runId: wf.runId, ...(wf.closeTime ? { closeTime: wf.closeTime.toISOString() } : {}) });
    if (batch.length >= 200) await flush();
    if (found.length >= max) break;
  }
  await flush();
  return found.slice(0, max);
}

async function readSweepState(db: Pick<Pool, 'query'>): Promise<SweepState> {
  const { rows } = await db.query<{ archived_before: Date; full_sweep_at: Date | null; updated_at: Date }>(
    'SELECT archived_before, full_sweep_at, updated_at FROM archive_sweep_state',
  );
  return {
    archivedBefore: rows[0]?.archived_before ?? null,
    fullSweepAt: rows[0]?.full_sweep_at ?? null,
    recordedAt: rows[0]?.updated_at ?? null,
  };
}

/** The unarchived runs a sweep beginning at `listedAt` must look at (see domain/archive-sweep.ts). */
export async function findRunsToSweep(deps: ArchiveDeps, listedAt: Date): Promise<RunRef[]> {
  const { closedSince } = sweepWindow(await readSweepState(deps.pool), listedAt);
  return findUnarchivedRuns(deps, MAX_RUNS_PER_SWEEP, closedSince);
}

/** The advisory lock key that takes sweeps' records one at a time ("ARCHSWEP" in ASCII). */
const SWEEP_LOCK = '4706898538470524240';

/** Moves the watermark after a sweep that began at `listedAt`. */
export async function recordSweep(deps: ArchiveDeps, listedAt: Date, outcome: SweepOutcome): Promise<SweepState> {
  return withTransaction(deps.pool, async (client) => {
    // (one record at a time, each worked out from the one before: see afterSweep)
    await client.query('SELECT pg_advisory_xact_lock($1)', [SWEEP_LOCK]);
    const next = afterSweep(await readSweepState(client), listedAt, outcome);
    if (next.archivedBefore) {
      await client.query(
        `INSERT INTO archive_sweep_state (archived_before, full_sweep_at) VALUES ($1, $2)
         ON CONFLICT (only_row) DO UPDATE SET archived_before = EXCLUDED.archived_before, full_sweep_at = EXCLUDED.full_sweep_at, updated_at = now()`,
        [next.archivedBefore, next.fullSweepAt],
      );
    }
    return next;
  });
}

export interface ArchivedRun extends RunRef {
  sha256: string;
  /** False when another archiver stored it first (the row is the same). */
  inserted: boolean;
}

/**
 * Stores one closed run (idempotent: an archived run is left as it is), after handing the child
 * workflows it started to `beforeStoring`.
 */
export async function archiveRun(
  deps: ArchiveDeps,
  ref: RunRef,
  deviationId = ref.workflowId,
  /** Called with the run's children before the run itself is stored. */
  beforeStoring: (children: RunRef[]) => Promise<void> = async () => undefined,
): Promise<ArchivedRun> {
  const run = await fetchRun(deps.temporal, ref.workflowId, ref.runId);
  const status = closeStatus(run);
  if (!status) throw new Error(`${ref.workflowId} run ${ref.runId} is still running: only closed runs are archived`);
  const events = run.history.events ?? [];
  const started = events[0]!;
  const type = started.workflowExecutionStartedEventAttributes?.workflowType?.name ?? 'unknown';
  const children = events
    .map((e) => e.childWorkflowExecutionStartedEventAttributes?.workflowExecution)
    .filter((e): e is { workflowId: string; runId: string } => Boolean(e?.workflowId && e.runId))
    .map((e) => ({ workflowId: e.workflowId, runId: e.runId }));
  await beforeStoring(children);
  const inserted = await withTransaction(deps.pool, async (db) => {
    const { rowCount } = await db.query(
      `INSERT INTO workflow_archives (deviation_id, workflow_id, run_id, workflow_type, status, started_at, closed_at, event_count, history, sha256)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (workflow_id, run_id) DO NOTHING`,
      [
        deviationId,
        ref.workflowId,
        ref.runId,
        type,
        status,
        toDate(started.eventTime),
        toDate(events[events.length - 1]!.eventTime),
        events.length,
        run.text,
        run.sha256,
      ],
    );
    if (rowCount) {
      await appendAudit(db, {
        actor: 'system',
        action: 'workflow_history.archived',
        entityType: 'workflow_run',
        entityId: `${ref.workflowId}/${ref.runId}`,
        deviationId,
        after: { workflowType: type, status, events: events.length, sha256: run.sha256 },
      });
    }
    return Boolean(rowCount);
  });
  return { ...ref, sha256: run.sha256, inserted };
}

/**
 * Archives a deviation run and the child workflows it started, children first: a run is stored only
 * once everything it started is, so that a child that cannot be archived now keeps its deviation
 * run out of the archive too, and a later sweep (which skips archived runs) tries both again.
 */
export async function archiveDeviationRun(deps: ArchiveDeps, ref: RunRef): Promise<ArchivedRun[]> {
  const done: ArchivedRun[] = [];
  const visit = async (r: RunRef): Promise<void> => {
    const archived = await archiveRun(deps, r, ref.workflowId, async (children) => {
      for (const child of children) await visit(child);
    });
    done.push(archived);
  };
  await visit(ref);
  return done;
}

/** One sweep: everything closed and not yet archived. Used by the scheduled workflow's activities and `npm run audit -- archive`. */
export async function archiveClosedDeviations(deps: ArchiveDeps): Promise<ArchivedRun[]> {
  const archived: ArchivedRun[] = [];
  for (const ref of await findUnarchivedRuns(deps)) archived.push(...(await archiveDeviationRun(deps, ref)));
  return archived;
}
