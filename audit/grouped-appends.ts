import { withTransaction, type Pool } from '../db/pool';
import { appendAuditRows, type AuditEntry, type AuditRow } from './trail';

/** Rows written in one transaction at most (12 parameters each, far below PostgreSQL's 65,535). */
const MAX_ROWS_PER_APPEND = 200;

interface Waiting {
  entry: AuditEntry;
  resolve(row: AuditRow): void;
  reject(err: unknown): void;
}

/**
 * Appends to the audit trail for many concurrent callers, each answered once its own row is
 * committed. Every append takes the chain's lock, reads its tail and commits; taken once per row,
 * twenty requests at once queue on that lock, each holding a pooled connection as it waits. Here the
 * rows that arrive while one append is in flight wait in memory and go in the next, together: one
 * connection, one turn of the lock, one commit for all of them. Alone, a row goes at once.
 *
 * If a group fails, its rows are tried again one by one, so that one row the database refuses never
 * costs the others theirs; each caller learns the fate of its own row.
 */
export function groupedAuditAppends(pool: Pool): (entry: AuditEntry) => Promise<AuditRow> {
  let waiting: Waiting[] = [];
  let writing = false;

  const write = async (group: Waiting[]) => {
    try {
      const rows = await withTransaction(pool, (client) =>
        appendAuditRows(
          client,
          group.map((w) => w.entry),
        ),
      );
      group.forEach((w, i) => w.resolve(rows[i]!));
    } catch (err) {
      if (group.length === 1) return group[0]!.reject(err);
      for (const w of group) await write([w]);
    }
  };

  const drain = async () => {
    writing = true;
    while (waiting.length > 0) {
      const group = waiting.slice(0, MAX_ROWS_PER_APPEND);
      waiting = waiting.slice(group.length);
      await write(group);
    }
    writing = false;
  };

  return (entry) =>
    new Promise<AuditRow>((resolve, reject) => {
      waiting.push({ entry, resolve, reject });
      if (!writing) void drain();
    });
}
