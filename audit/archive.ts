import type { Client } from '@temporalio/client';
import type { Pool } from '../db/pool';
import { withTransaction } from '../db/pool';
import { fetchRun, type RunHistory } from './history';
import { appendAudit } from './trail';

/**
 * The archive of closed workflow histories in PostgreSQL (migrations/0300). Temporal drops a
 * closed workflow after the namespace's retention; regulated records must outlive that, so every
 * closed run of a DeviationWorkflow — each continuation, and the change-control child workflows it
 * started — is copied here within minutes of closing, with its SHA-256.
 */
export const UNARCHIVED_QUERY = `WorkflowType='DeviationWorkflow' AND ExecutionStatus!='Running'`;

export interface RunRef {
  workflowId: string;
  runId: string;
}

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

/** Closed DeviationWorkflow runs Temporal still has that the archive does not, oldest first. */
export async function findUnarchivedRuns(deps: ArchiveDeps, max = 500): Promise<RunRef[]> {
  const found: RunRef[] = [];
  let batch: RunRef[] = [];
  const flush = async () => {
    if (!batch.length) return;
    const { rows } = await deps.pool.query<{ run_id: string }>('SELECT run_id FROM workflow_archives WHERE run_id = ANY($1::text[])', [batch.map((r) => r.runId)]);
    const archived = new Set(rows.map((r) => r.run_id));
    found.push(...batch.filter((r) => !archived.has(r.runId)));
    batch = [];
  };
  // The visibility list holds only what is within retention, so this scan stays bounded by it.
  for await (const wf of deps.temporal.workflow.list({ query: UNARCHIVED_QUERY })) {
    batch.push({ workflowId: wf.workflowId, runId: wf.runId });
    if (batch.length >= 200) await flush();
    if (found.length >= max) break;
  }
  await flush();
  return found.slice(0, max);
}

export interface ArchivedRun extends RunRef {
  sha256: string;
  /** False when another archiver stored it first (the row is the same). */
  inserted: boolean;
  children: RunRef[];
}

/**
 * Stores one closed run (idempotent: an archived run is left as it is). Returns the child
 * workflows it started, so their histories are archived with it.
 */
export async function archiveRun(deps: ArchiveDeps, ref: RunRef, deviationId = ref.workflowId): Promise<ArchivedRun> {
  const run = await fetchRun(deps.temporal, ref.workflowId, ref.runId);
  const status = closeStatus(run);
  if (!status) throw new Error(`${ref.workflowId} run ${ref.runId} is still running: only closed runs are archived`);
  const events = run.history.events ?? [];
  const started = events[0]!;
  const type = started.workflowExecutionStartedEventAttributes?.workflowType?.name ?? 'unknown';
  const children = events
    .map((e) => e.childWorkflowExecutionStartedEventAttributes?.workflowExecution)
    .filter((e): e is { workflowId: string; runId: string } => Boolean(e?.workflowId && e.runId));
  const inserted = await withTransaction(deps.pool, async (db) => {
    const { rowCount } = await db.query(
      `INSERT INTO workflow_archives (deviation_id, workflow_id, run_id, workflow_type, status, started_at, closed_at, event_count, history, sha256)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (workflow_id, run_id) DO NOTHING`,
      [deviationId, ref.workflowId, ref.runId, type, status, toDate(started.eventTime), toDate(events[events.length - 1]!.eventTime), events.length, run.text, run.sha256],
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
  return { ...ref, sha256: run.sha256, inserted, children };
}

/** Archives a deviation run and, depth first, the child workflows it started. */
export async function archiveDeviationRun(deps: ArchiveDeps, ref: RunRef): Promise<ArchivedRun[]> {
  const done: ArchivedRun[] = [];
  const visit = async (r: RunRef) => {
    const archived = await archiveRun(deps, r, ref.workflowId);
    done.push(archived);
    for (const child of archived.children) await visit(child);
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

/** Activities of the ArchiveClosedDeviations workflow (workflows/archive.ts). */
export interface ArchiveActivities {
  findUnarchivedDeviationRuns(): Promise<RunRef[]>;
  archiveDeviationRun(ref: RunRef): Promise<Array<{ workflowId: string; runId: string; sha256: string; inserted: boolean }>>;
}

export function createArchiveActivities(deps: ArchiveDeps): ArchiveActivities {
  return {
    findUnarchivedDeviationRuns: () => findUnarchivedRuns(deps),
    async archiveDeviationRun(ref) {
      const runs = await archiveDeviationRun(deps, ref);
      return runs.map(({ workflowId, runId, sha256, inserted }) => ({ workflowId, runId, sha256, inserted }));
    },
  };
}
