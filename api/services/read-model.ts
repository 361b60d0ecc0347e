import type { Queryable } from '../../db/pool';

/**
 * Lists read from the read model (the deviations and signoff_tasks tables the worker keeps up to
 * date from each deviation's state), for the list routes: a list never asks the workflows.
 */

export interface DeviationListFilter {
  stage?: string;
  severity?: string;
  batch?: string;
  overdue?: boolean;
  limit: number;
  offset: number;
}

/** Deviations, newest first (GET /deviations). */
export async function listDeviations(db: Queryable, f: DeviationListFilter): Promise<unknown[]> {
  const { rows } = await db.query(
    `SELECT id, title, symptom, severity, stage, status, batches, reported_by AS "reportedBy",
            detected_at AS "detectedAt", updated_at AS "updatedAt", sla_breached AS "slaBreached",
            next_due_at AS "nextDueAt", overdue, lines, gtins, summary
       FROM deviations
      WHERE ($1::text IS NULL OR stage = $1)
        AND ($2::text IS NULL OR severity = $2)
        AND ($3::text IS NULL OR $3 = ANY (batches))
        AND ($6::boolean IS NULL OR overdue = $6)
      ORDER BY detected_at DESC, id DESC
      LIMIT $4 OFFSET $5`,
    [f.stage ?? null, f.severity ?? null, f.batch ?? null, f.limit, f.offset, f.overdue ?? null],
  );
  return rows;
}

export interface TaskListFilter {
  status: string;
  /** Every task, not only those for `roles`. */
  everything: boolean;
  roles: readonly string[];
  gate?: string;
  deviation?: string;
  overdue?: boolean;
  limit: number;
}

/** Sign-off tasks, soonest due first (GET /tasks, the inbox). */
export async function listTasks(db: Queryable, f: TaskListFilter): Promise<unknown[]> {
  const { rows } = await db.query(
    `SELECT t.id, t.deviation_id AS "deviationId", t.gate, t.title, t.roles, t.meaning,
            t.signatures_required AS "signaturesRequired", t.signatures, t.status,
            t.overdue OR (t.status = 'open' AND t.due_at < now()) AS overdue,
            t.created_at AS "createdAt", t.due_at AS "dueAt", d.title AS "deviationTitle", d.severity
       FROM signoff_tasks t JOIN deviations d ON d.id = t.deviation_id
      WHERE t.status = $1
        AND ($2::boolean OR t.roles && $3::text[])
        AND ($4::text IS NULL OR t.gate = $4)
        AND ($5::text IS NULL OR t.deviation_id = $5)
        AND ($6::boolean IS NULL OR (t.overdue OR (t.status = 'open' AND t.due_at < now())) = $6)
      ORDER BY t.due_at, t.id
      LIMIT $7`,
    [f.status, f.everything, f.roles, f.gate ?? null, f.deviation ?? null, f.overdue ?? null, f.limit],
  );
  return rows;
}
