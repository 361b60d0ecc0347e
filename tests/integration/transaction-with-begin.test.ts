import { createPool, withTransaction, type Pool } from '../../db/pool';
import { testConfig } from '../helpers/stack';

/**
 * withTransaction's `withBegin`: a statement sent in BEGIN's round trip. Its rows reach the work, it
 * belongs to the transaction, and when it fails the connection goes back to the pool with no
 * transaction left open (the next user of the connection is not inside an aborted one).
 */
let pool: Pool;
beforeAll(() => {
  pool = createPool(testConfig().DATABASE_URL, 1);
});
afterAll(async () => {
  await pool.end();
});

it("hands the statement's rows to the work, inside the transaction", async () => {
  const seen = await withTransaction(
    pool,
    async (client, tx) => {
      const { rows } = await client.query<{ xid: string }>('SELECT txid_current()::text AS xid');
      return { begun: tx.begunRows, xid: rows[0]!.xid };
    },
    { withBegin: 'SELECT 41 + 1 AS n, txid_current()::text AS xid' },
  );
  expect(seen.begun).toEqual([{ n: 42, xid: seen.xid }]);
});

it('leaves no transaction open on the connection when the statement fails', async () => {
  await expect(withTransaction(pool, async () => 'never', { withBegin: 'SELECT 1 / 0' })).rejects.toThrow(/division by zero/);
  // The pool has one connection: the next query runs on it, outside any transaction.
  const { rows } = await pool.query<{ open: boolean }>(`SELECT now() <> statement_timestamp() AS open`);
  expect(rows[0]!.open).toBe(false);
  expect((await pool.query<{ n: number }>('SELECT 1 AS n')).rows[0]!.n).toBe(1);
});
