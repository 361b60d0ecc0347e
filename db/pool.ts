import { Pool, type ClientBase, type PoolClient } from 'pg';

export type { ClientBase, Pool, PoolClient };

/** Either the pool or a client inside the caller's transaction. */
export type Queryable = Pool | PoolClient;

/** What a lost connection's 'error' event needs: nothing (see createPool; the statement in flight fails with the error). */
export const ignoreLostConnection = (): void => undefined;

/**
 * Ten connections, the size of the API's pool and of the worker's for its short writes. An API
 * request holds one for a statement at a time (the session check, the key binding, reads), never
 * while it waits on Temporal, and the audit rows of concurrent requests go in through one
 * connection at a time (audit/grouped-appends.ts): ten serve twenty clients at once without a queue
 * to speak of. Sized up, they would only queue on the audit trail's lock instead: its appends take
 * turns whatever the pool. And three workers (ten, plus their slow pools, worker/main.ts) with two
 * APIs stay well under PostgreSQL's default of 100 connections (docs/scale.md, "Holds first under a
 * burst").
 */
export const DEFAULT_POOL_SIZE = 10;

export function createPool(databaseUrl: string, max = DEFAULT_POOL_SIZE): Pool {
  const pool = new Pool({ connectionString: databaseUrl, max, application_name: 'gxp-deviation-engine' });
  // A connection the server ends (a restart, a failover, pg_terminate_backend) emits 'error' on
  // its client, in use or idle; unheard, that event would end the whole process, the worker with
  // every activity in flight. The statement in flight fails with the error, its caller retries on
  // another connection, and the pool drops the dead one.
  pool.on('error', ignoreLostConnection);
  pool.on('connect', (client) => client.on('error', ignoreLostConnection));
  return pool;
}

/** Whether PostgreSQL answers (GET /health). */
export async function pingDatabase(pool: Pool): Promise<void> {
  await pool.query('SELECT 1');
}

/** True for a pool, false for one client (a pool's own or one connected alone). */
export function isPool(db: Pool | ClientBase): db is Pool {
  return typeof (db as Pool).totalCount === 'number';
}

/** What a transaction's work may tell withTransaction besides its result. */
export interface TransactionControl {
  /**
   * End with ROLLBACK although the work succeeded: a refused document or report answers with its
   * problems and keeps nothing.
   */
  rollBackOnReturn(): void;
  /**
   * Set while a COPY is in progress: the connection then accepts nothing else, not even ROLLBACK,
   * so a failure discards the connection (which ends the transaction on the server) instead.
   */
  copyInProgress: boolean;
  /** The rows of `withBegin`'s statement (none without it). */
  begunRows: unknown[];
}

export interface TransactionOptions {
  /** How the transaction begins, when not with the defaults. */
  isolation?: 'REPEATABLE READ' | 'SERIALIZABLE';
  /**
   * A statement without parameters sent together with BEGIN, in the same round trip (for a request
   * that counts its round trips, e.g. a number taken from a sequence); its rows are `begunRows`.
   */
  withBegin?: string;
}

/**
 * Runs `work` in one transaction: committed when it resolves, rolled back when it throws (or when
 * the work asked for it). Given the pool, it takes a connection for the transaction and releases
 * it after; given a client (outside any transaction), it uses that client and leaves it connected.
 */
export async function withTransaction<T>(
  pool: Pool,
  work: (client: PoolClient, tx: TransactionControl) => Promise<T>,
  options?: TransactionOptions,
): Promise<T>;
export async function withTransaction<C extends ClientBase, T>(
  client: C,
  work: (client: C, tx: TransactionControl) => Promise<T>,
  options?: TransactionOptions,
): Promise<T>;
// (Both overloads meet here: of the client, only query() is used, which every client has.)
export async function withTransaction<T>(
  db: Pool | PoolClient,
  work: (client: PoolClient, tx: TransactionControl) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  if (!isPool(db)) return inTransaction(db, work, options);
  const client = await db.connect();
  let discarded: Error | undefined;
  try {
    return await inTransaction(client, work, options, (err) => (discarded = err));
  } finally {
    client.release(discarded);
  }
}

async function inTransaction<T>(
  client: PoolClient,
  work: (client: PoolClient, tx: TransactionControl) => Promise<T>,
  options: TransactionOptions,
  discard?: (err: Error) => void,
): Promise<T> {
  let rollBack = false;
  const tx: TransactionControl = { rollBackOnReturn: () => void (rollBack = true), copyInProgress: false, begunRows: [] };
  const begin = options.isolation ? `BEGIN ISOLATION LEVEL ${options.isolation}` : 'BEGIN';
  if (options.withBegin) {
    // A simple query of two statements answers one result each.
    try {
      const results = (await client.query(`${begin}; ${options.withBegin}`)) as unknown as Array<{ rows: unknown[] }>;
      tx.begunRows = results[1]?.rows ?? [];
    } catch (err) {
      // BEGIN may have taken effect before the statement failed: the connection leaves no transaction open.
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  } else {
    await client.query(begin);
  }
  try {
    const result = await work(client, tx);
    await client.query(rollBack ? 'ROLLBACK' : 'COMMIT');
    return result;
  } catch (err) {
    if (tx.copyInProgress && discard) discard(err instanceof Error ? err : new Error(String(err)));
    else await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * Runs `work` under a savepoint of the transaction the client is in: on failure only the work is
 * undone and the caller's transaction goes on. Null (nothing run) when the client is in no
 * transaction, so the caller can open one of its own.
 */
export async function withSavepoint<T>(client: PoolClient, name: string, work: () => Promise<T>): Promise<{ result: T } | null> {
  try {
    await client.query(`SAVEPOINT ${name}`);
  } catch (err) {
    if ((err as { code?: string }).code !== '25P01') throw err; // 25P01: not inside a transaction
    return null;
  }
  try {
    const result = await work();
    await client.query(`RELEASE SAVEPOINT ${name}`);
    return { result };
  } catch (err) {
    await client.query(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => undefined);
    throw err;
  }
}
