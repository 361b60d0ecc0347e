import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { Queryable } from '../auth/types';
import type { PoolClient } from '../db/pool';
import { GENESIS_HASH, signatureEntrySchema, type SignatureEntry, type SignatureMeaning } from '../domain/signatures';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('A record to hash must be JSON (not undefined or a function).');
  return text;
}

/**
 * SHA-256 of the RFC 8785 canonical JSON of a record: the same content hashes the same whatever the
 * key order, so a signature stays linked to exactly the record signed (21 CFR 11.70). Dates are
 * serialised through toJSON (ISO 8601 UTC); NaN and Infinity are refused.
 */
export function canonicalRecordHash(record: unknown): string {
  return sha256(canonicalJson(record));
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
  return sha256(
    canonicalJson({
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
    }),
  );
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
const LEDGER_LOCK = `SELECT pg_advisory_xact_lock(hashtext('gxp'), hashtext('signature_ledger'))`;

async function appendLocked(client: PoolClient, entry: ReturnType<typeof signatureEntrySchema.parse>): Promise<LedgerRow> {
  await client.query(LEDGER_LOCK);
  const { rows: existing } = await client.query<LedgerRow>(
    `SELECT ${ROW_COLUMNS} FROM signature_ledger WHERE task_id = $1 AND signer_id = $2 AND meaning = $3`,
    [entry.taskId, entry.signerId, entry.meaning],
  );
  if (existing[0]) {
    if (existing[0].recordHash !== entry.recordHash) throw new SignatureConflictError(existing[0]);
    return existing[0]; // a retried activity: the signature is already there
  }
  const { rows: tail } = await client.query<{ hash: string }>(`SELECT hash FROM signature_ledger ORDER BY id DESC LIMIT 1`);
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
    prevHash: tail[0]?.hash ?? GENESIS_HASH,
  };
  const hash = ledgerRowHash(content);
  const { rows } = await client.query<LedgerRow>(
    `INSERT INTO signature_ledger (task_id, deviation_id, signer_id, signer_login, printed_name, meaning, signed_at,
                                   record_hash, comment, prev_hash, hash)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     RETURNING ${ROW_COLUMNS}`,
    [content.taskId, content.deviationId, content.signerId, content.login, content.printedName, content.meaning,
      content.signedAt, content.recordHash, content.comment, content.prevHash, hash],
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
  if (!('release' in db)) {
    const client = await db.connect();
    try {
      return await ownTransaction(client, parsed);
    } finally {
      client.release();
    }
  }
  try {
    await db.query('SAVEPOINT signature_append');
  } catch (err) {
    if ((err as { code?: string }).code !== '25P01') throw err; // 25P01: not inside a transaction
    return ownTransaction(db, parsed);
  }
  try {
    const row = await appendLocked(db, parsed);
    await db.query('RELEASE SAVEPOINT signature_append');
    return row;
  } catch (err) {
    await db.query('ROLLBACK TO SAVEPOINT signature_append').catch(() => undefined);
    throw err;
  }
}

async function ownTransaction(client: PoolClient, entry: ReturnType<typeof signatureEntrySchema.parse>): Promise<LedgerRow> {
  await client.query('BEGIN');
  try {
    const row = await appendLocked(client, entry);
    await client.query('COMMIT');
    return row;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
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
  let expectedPrev = GENESIS_HASH;
  let afterId = 0;
  let checked = 0;
  for (;;) {
    const { rows } = await db.query<LedgerRow>(
      `SELECT ${ROW_COLUMNS} FROM signature_ledger WHERE id > $1 ORDER BY id LIMIT $2`,
      [afterId, pageSize],
    );
    for (const row of rows) {
      checked += 1;
      if (row.prevHash !== expectedPrev) {
        return { ok: false, rows: checked, firstBrokenId: row.id, reason: `row ${row.id} does not link to the row before it (prev_hash differs from that row's hash)` };
      }
      if (ledgerRowHash(row) !== row.hash) {
        return { ok: false, rows: checked, firstBrokenId: row.id, reason: `row ${row.id} does not match its hash: its content was changed after signing` };
      }
      expectedPrev = row.hash;
      afterId = row.id;
    }
    if (rows.length < pageSize) return { ok: true, rows: checked };
  }
}

/** The signatures on one deviation, in ledger order. */
export async function signaturesForDeviation(db: Queryable, deviationId: string): Promise<LedgerRow[]> {
  const { rows } = await db.query<LedgerRow>(
    `SELECT ${ROW_COLUMNS} FROM signature_ledger WHERE deviation_id = $1 ORDER BY id`,
    [deviationId],
  );
  return rows;
}
