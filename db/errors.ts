/**
 * PostgreSQL's answer when it rolled a transaction back because of another one under way: a
 * deadlock (40P01) or a serialization failure (40001). Nothing of the transaction was kept, and
 * the same request sent again can succeed.
 */
export function isTransactionConflict(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}
