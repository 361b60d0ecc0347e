import { canonicalSha256, chainTail, lockChain, verifyChain, type HashChain } from '../db/hash-chain';
import { isPool, withSavepoint, withTransaction, type PoolClient, type Queryable } from '../db/pool';
import { signatureEntrySchema, type SignatureEntry, type SignatureMeaning } from '../domain/signatures';

/**
 * SHA-256 of the RFC 8785 canonical JSON of a record: the same content hashes the same whatever the
 * key order, so a signature stays linked to exactly the record signed (21 CFR 11.70). Dates are
 * serialised through toJSON (ISO 8601 UTC); NaN and Infinity are refused.
 */
export function canonicalRecordHash(record: unknown): string {
  return canonicalSha256(record);
}

export interface LedgerRow {
  id: number;
  taskId: string;
  deviationId: string;
  signerId: string;
  login: string;
  printedName: string;
  meaning: SignatureMeaning;
  /** UTC, to the millisecond. */
  signedAt: Date;
  recordHash: string;
  comment: string | null;
  prevHash: string;
  hash: string;
}

/** What a row's hash covers: every column but id and the hash itself, prev_hash included (the chain). */
export function ledgerRowHash(row: Omit<LedgerRow, 'id' | 'hash'>): string {
  return canonicalSha256({
    v: 1,
    taskId: row.taskId,
    deviationId: row.deviationId,
    signerId: row.signerId,
    login: row.login,
    printedName: row.printedName,
    meaning: row.meaning,
    signedAt: row.signedAt.toISOString(),
    recordHash: row.recordHash,
    comment: row.comment,
    prevHash: row.prevHash,
  });
}

/** A second, different signature for the same task, signer and meaning: a bug in the caller, never retried away. */
export class SignatureConflictError extends Error {
  constructor(readonly existing: LedgerRow) {
    super(`Task ${existing.taskId} already carries a "${existing.meaning}" signature by ${existing.login} over another record.`);
  }
}

const ROW_COLUMNS = `id::int AS id, task_id AS "taskId", deviation_id AS "deviationId", signer_id AS "signerId",
  signer_login AS login, printed_name AS "printedName", meaning, signed_at AS "signedAt", record_hash AS "recordHash",
  comment, prev_hash AS "prevHash", hash`;

// Two-key form, so this lock never collides with single-key advisory locks elsewhere (migrations use one).
const LEDGER_CHAIN: HashChain = { table: 'signature_ledger', lock: { names: ['gxp', 'signature_ledger'] } };

async function appendLocked(client: PoolClient, entry: ReturnType<typeof signatureEntrySchema.parse>): Promise<LedgerRow> {
  await lockChain(client, LEDGER_CHAIN);
  const { rows: existing } = await client.query<LedgerRow>(
    `SELECT ${ROW_COLUMNS} FROM signature_ledger WHERE task_id = $1 AND signer_id = $2 AND meaning = $3`,
    [entry.taskId, entry.signerId, entry.meaning],
  );
  if (existing[0]) {
    if (existing[0].recordHash !== entry.recordHash) throw new SignatureConflictError(existing[0]);
    return existing[0]; // a retried activity: the signature is already there
  }
  const prevHash = await chainTail(client, LEDGER_CHAIN);
  const content = {
    taskId: entry.taskId,
    deviationId: entry.deviationId,
    signerId: entry.signerId,
    login: entry.login,
    printedName: entry.printedName,
    meaning: entry.meaning,
    // Milliseconds: what a JavaScript Date carries, so the hash recomputes from what PostgreSQL gives back.
    signedAt: new Date(Math.floor((entry.signedAt ?? new Date()).getTime())),
    recordHash: entry.recordHash,
    comment: entry.comment ?? null,
    prevHash,
  };
  const hash = ledgerRowHash(content);
  const { rows } = await client.query<LedgerRow>(
    `INSERT INTO signature_ledger (task_id, deviation_id, signer_id, signer_login, printed_name, meaning, signed_at,
                                   record_hash, comment, prev_hash, hash)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     RETURNING ${ROW_COLUMNS}`,
    [
      content.taskId,
      content.deviationId,
      content.signerId,
      content.login,
      content.printedName,
      content.meaning,
      content.signedAt,
      content.recordHash,
      content.comment,
      content.prevHash,
      hash,
    ],
  );
  return rows[0]!;
}

/**
 * Appends one signature to the ledger and returns the stored row with its hash. Appends are
 * serialised by a transaction-scoped advisory lock, so the chain never forks under concurrency.
 * Idempotent on (task, signer, meaning): a retried activity gets the row already stored.
 *
 * Given the pool, it runs in a transaction of its own. Given a client inside the caller's
 * transaction, it joins it (the row commits or rolls back with the caller's work, and the lock is
 * held until then); given a client outside any transaction, it opens and commits one.
 */
export async function appendSignature(db: Queryable, entry: SignatureEntry): Promise<LedgerRow> {
  const parsed = signatureEntrySchema.parse(entry);
  if (isPool(db)) return withTransaction(db, (client) => appendLocked(client, parsed));
  const joined = await withSavepoint(db, 'signature_append', () => appendLocked(db, parsed));
  return joined ? joined.result : withTransaction(db, (client) => appendLocked(client, parsed));
}

export interface LedgerVerification {
  ok: boolean;
  /** Rows checked (all of them when ok; up to and including the broken one otherwise). */
  rows: number;
  firstBrokenId?: number;
  reason?: string;
}

/**
 * Walks the chain in order and recomputes every hash (21 CFR 11.10(e)): an edited row fails its
 * own hash; a deleted or inserted row breaks the next row's link. Reads in pages, so the ledger's
 * size never has to fit in memory. (Removing rows from the very end leaves a shorter valid chain;
 * catching that needs the latest hash kept elsewhere, e.g. in the deviation's workflow history.)
 */
export async function verifyLedger(db: Queryable, pageSize = 1000): Promise<LedgerVerification> {
  const result = await verifyChain<LedgerRow>(
    {
      page: async (after, limit) => {
        const { rows } = await db.query<LedgerRow>(`SELECT ${ROW_COLUMNS} FROM signature_ledger WHERE id > $1 ORDER BY id LIMIT $2`, [
          after?.id ?? 0,
          limit,
        ]);
        return rows;
      },
      hashOf: ledgerRowHash,
    },
    pageSize,
  );
  if (result.ok) return { ok: true, rows: result.rows };
  const { id } = result.broken;
  const reason =
    result.problem === 'link'
      ? `row ${id} does not link to the row before it (prev_hash differs from that row's hash)`
      : `row ${id} does not match its hash: its content was changed after signing`;
  return { ok: false, rows: result.rows, firstBrokenId: id, reason };
}

/** The signatures on one deviation, in ledger order. */
export async function signaturesForDeviation(db: Queryable, deviationId: string): Promise<LedgerRow[]> {
  const { rows } = await db.query<LedgerRow>(`SELECT ${ROW_COLUMNS} FROM signature_ledger WHERE deviation_id = $1 ORDER BY id`, [
    deviationId,
  ]);
  return rows;
}
