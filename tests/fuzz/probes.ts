import type { Client } from '@temporalio/client';
import type { Pool } from '../../db/pool';

/**
 * What a request could have written, counted: every table of the schema (found at the first
 * snapshot, so tables added by later migrations are counted too), plus digests of the columns a
 * refused request must not change (accounts, keys, batches) and counts by state where a change is
 * an update, not a new row (holds disposed, tasks closed, sessions revoked).
 *
 * Left out on purpose: `security_log` and `sign_in_throttle`, which a refused credential check is
 * meant to write (21 CFR 11.300(d)), as are the signing-lock columns of `users` (outside the digest)
 * and the lock's `notifications` row; `notifications` and the audit rows of the workers' own entity
 * types (`notification`, `workflow_run`) also grow with the compressed policy's timers whatever the
 * requests do; and the migration tool's bookkeeping. `audit_trail` is counted by entity type instead.
 */
const NOT_COUNTED = new Set(['security_log', 'sign_in_throttle', 'notifications', 'audit_trail', 'pgmigrations', 'archive_sweep_state']);

const SPECIAL: Record<string, string> = {
  'holds disposed': `SELECT count(*) FROM holds WHERE disposition IS NOT NULL`,
  'signoff_tasks closed': `SELECT count(*) FROM signoff_tasks WHERE status <> 'open'`,
  'audit_trail api_call': `SELECT count(*) FROM audit_trail WHERE entity_type = 'api_call'`,
  'audit_trail accounts': `SELECT count(*) FROM audit_trail WHERE entity_type IN ('user', 'api_key', 'session')`,
  'audit_trail holds+signatures': `SELECT count(*) FROM audit_trail WHERE entity_type IN ('batch', 'signoff_task')`,
  'users digest': `SELECT md5(coalesce(string_agg(concat_ws('|', id, login, printed_name, email, roles::text, active, password_hash, password_must_change), ',' ORDER BY id), '')) FROM users`,
  'sessions live': `SELECT count(*) FROM sessions WHERE revoked_at IS NULL`,
  'api_keys digest': `SELECT md5(coalesce(string_agg(concat_ws('|', id, name, roles::text, revoked_at, revoked_by), ',' ORDER BY id), '')) FROM api_keys`,
  'batches digest': `SELECT md5(coalesce(string_agg(concat_ws('|', id, gtin, lot, expiry, line, planned_quantity, status, source), ',' ORDER BY id), '')) FROM batches`,
};

const statements = new WeakMap<Pool, Promise<string>>();

async function snapshotSql(pool: Pool): Promise<string> {
  const { rows } = await pool.query<{ name: string }>(
    `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`,
  );
  const counts = rows.filter((r) => !NOT_COUNTED.has(r.name)).map((r) => `(SELECT count(*) FROM "${r.name}") AS "${r.name}"`);
  const special = Object.entries(SPECIAL).map(([name, sql]) => `(${sql}) AS "${name}"`);
  return `SELECT ${[...counts, ...special].join(',\n  ')}`;
}

export type Snapshot = Record<string, string>;

export async function snapshotRows(pool: Pool): Promise<Snapshot> {
  let sql = statements.get(pool);
  if (!sql) statements.set(pool, (sql = snapshotSql(pool)));
  const { rows } = await pool.query<Record<string, string | number>>(await sql);
  return Object.fromEntries(Object.entries(rows[0]!).map(([k, v]) => [k, String(v)]));
}

/**
 * The human input in a workflow's history: Updates accepted and signals (a refused Update leaves
 * neither). Timers of the compressed policy add events all the time, so the history's length
 * would not do. A workflow that does not exist counts as -1.
 */
export async function inputEvents(temporal: Client, workflowId: string): Promise<number> {
  try {
    const history = await temporal.workflow.getHandle(workflowId).fetchHistory();
    return (history.events ?? []).filter(
      (e) => e.workflowExecutionUpdateAcceptedEventAttributes || e.workflowExecutionSignaledEventAttributes,
    ).length;
  } catch {
    return -1;
  }
}

export async function snapshot(pool: Pool, temporal: Client, workflowIds: string[]): Promise<Snapshot> {
  const [rows, ...inputs] = await Promise.all([snapshotRows(pool), ...workflowIds.map((id) => inputEvents(temporal, id))]);
  return { ...rows, ...Object.fromEntries(workflowIds.map((id, i) => [`history input ${id}`, String(inputs[i])])) };
}

/** The entries that differ, as `name: before → after`. */
export function differences(before: Snapshot, after: Snapshot): string[] {
  return Object.keys(after)
    .filter((k) => before[k] !== after[k])
    .map((k) => `${k}: ${before[k]} → ${after[k]}`);
}
