import type { Queryable } from '../../db/pool';

/**
 * Lists read from the read model (the deviations and signoff_tasks tables the worker keeps up to
 * date from each deviation's state), for the list routes: a list never asks the workflows.
 */

export interface DeviationListFilter {
  stage?: string;
  severity?: string;
  batch?: string;
  /** A line the deviation names, exactly. */
  line?: string;
  /** Free text, found anywhere in the ID, title, symptom, reporter, batches or lines (case ignored). */
  text?: string;
  overdue?: boolean;
  limit: number;
  offset: number;
}

export interface DeviationPage {
  items: unknown[];
  /** How many deviations match the filter, on every page. */
  total: number;
}

/** A LIKE pattern that finds `text` as it is written: its own % and _ (and the escape) match themselves. */
const containing = (text: string) => `%${text.replace(/[\\%_]/g, '\\$&')}%`;

/**
 * Deviations, newest first (GET /deviations): one page, and how many match. Both come from one
 * statement, so the count and the page describe the same moment of a board that changes while it
 * is read.
 */
export async function listDeviations(db: Queryable, f: DeviationListFilter): Promise<DeviationPage> {
  const { rows } = await db.query<{ total: number; id: string | null }>(
    `WITH matching AS MATERIALIZED (
       SELECT id, detected_at FROM deviations
        WHERE ($1::text IS NULL OR stage = $1)
          AND ($2::text IS NULL OR severity = $2)
          -- (containment, not = ANY: the GIN indexes on batches and lines answer containment)
          AND ($3::text IS NULL OR batches @> ARRAY[$3::text])
          AND ($4::text IS NULL OR lines @> ARRAY[$4::text])
          AND ($5::boolean IS NULL OR overdue = $5)
          -- (the searched text has no line break, so it never matches across two of the fields joined here)
          AND ($6::text IS NULL
               OR concat_ws(E'\\n', id, title, symptom, reported_by, array_to_string(batches || lines, E'\\n')) ILIKE $6 ESCAPE '\\')
     )
     -- (one row even for a page past the end: it carries the count)
     SELECT n.total, d.id, d.title, d.symptom, d.severity, d.stage, d.status, d.batches, d.reported_by AS "reportedBy",
            d.detected_at AS "detectedAt", d.updated_at AS "updatedAt", d.sla_breached AS "slaBreached",
            d.next_due_at AS "nextDueAt", d.overdue, d.lines, d.gtins, d.summary
       FROM (SELECT count(*)::int AS total FROM matching) n
       LEFT JOIN (SELECT id, detected_at FROM matching ORDER BY detected_at DESC, id DESC LIMIT $7 OFFSET $8) page ON true
       LEFT JOIN deviations d ON d.id = page.id
      ORDER BY page.detected_at DESC, page.id DESC`,
    [
      f.stage ?? null,
      f.severity ?? null,
      f.batch ?? null,
      f.line ?? null,
      f.overdue ?? null,
      f.text ? containing(f.text) : null,
      f.limit,
      f.offset,
    ],
  );
  return {
    total: rows[0]?.total ?? 0,
    items: rows.filter((r) => r.id !== null).map(({ total: _total, ...item }) => item),
  };
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
