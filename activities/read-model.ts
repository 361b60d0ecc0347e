import { withTransaction, type Pool, type PoolClient } from '../db/pool';
import type { DeviationSnapshot } from '../workflows/types';
import type { ReadModelActivities } from '../workflows/activity-contracts';

export function createReadModelActivities(pool: Pool): ReadModelActivities {
  return {
    /** Idempotent upsert; an older version (a retried or late activity) never overwrites a newer one. */
    async recordDeviationSnapshot(s) {
      await withTransaction(pool, (client) => writeSnapshot(client, s));
    },
  };
}

/**
 * How the deviation was detected (its input's `source`: manual, reconciliation, spc), when the
 * snapshot carries it; a snapshot without it is a person's deviation.
 */
type SnapshotWithSource = DeviationSnapshot & { source?: string };

async function writeSnapshot(client: PoolClient, s: SnapshotWithSource): Promise<void> {
  const { rowCount } = await client.query(
    `INSERT INTO deviations (id, title, symptom, severity, stage, status, batches, reported_by,
                             detected_at, updated_at, version, sla_breached, next_due_at, summary,
                             lines, gtins, overdue, source)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)
     ON CONFLICT (id) DO UPDATE SET
       title = EXCLUDED.title, symptom = EXCLUDED.symptom, severity = EXCLUDED.severity,
       stage = EXCLUDED.stage, status = EXCLUDED.status, batches = EXCLUDED.batches,
       updated_at = EXCLUDED.updated_at, version = EXCLUDED.version,
       sla_breached = EXCLUDED.sla_breached, next_due_at = EXCLUDED.next_due_at, summary = EXCLUDED.summary,
       lines = EXCLUDED.lines, gtins = EXCLUDED.gtins, overdue = EXCLUDED.overdue, source = EXCLUDED.source
     WHERE deviations.version < EXCLUDED.version`,
    [
      s.id,
      s.title,
      s.symptom,
      s.severity,
      s.stage,
      s.status,
      s.batches,
      s.reportedBy,
      s.detectedAt,
      s.updatedAt,
      s.version,
      s.slaBreached,
      s.nextDueAt,
      JSON.stringify(s.summary),
      s.lines,
      s.gtins,
      s.overdue,
      s.source ?? 'manual',
    ],
  );
  // Only the writer that moved the deviation forward mirrors its tasks.
  if (!rowCount) return;
  for (const t of s.tasks) {
    await client.query(
      `INSERT INTO signoff_tasks (id, deviation_id, gate, title, roles, meaning, signatures_required, signatures,
                                  status, overdue, created_at, due_at, version)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)
       ON CONFLICT (id) DO UPDATE SET signatures = EXCLUDED.signatures, status = EXCLUDED.status,
         overdue = EXCLUDED.overdue, due_at = EXCLUDED.due_at, version = EXCLUDED.version
       WHERE signoff_tasks.version < EXCLUDED.version`,
      [
        t.id,
        s.id,
        t.gate,
        t.title,
        t.roles,
        t.meaning,
        t.signaturesRequired,
        t.signatures,
        t.status,
        t.overdue,
        t.createdAt,
        t.dueAt,
        s.version,
      ],
    );
  }
}
