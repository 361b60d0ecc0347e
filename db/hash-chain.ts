import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { ClientBase } from './pool';

/**
 * A hash-chained, append-only table: each row stores the hash of the row before it (`prev_hash`)
 * and a SHA-256 over its own content with that link (`hash`), so an edited row fails its own hash
 * and a removed, inserted or reordered row breaks the next row's link. The audit trail
 * (audit/trail.ts) and the signature ledger (signatures/ledger.ts) are such tables; this module is
 * what they share: the lock that serialises appends, the previous hash, the canonical SHA-256 and
 * the paged verification. What each row holds, and so what it hashes, stays with its table.
 */

/** The first row's predecessor. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * The RFC 8785 canonical JSON of `content`: the same content gives the same text whatever its key
 * order. Dates are serialised through toJSON (ISO 8601 UTC); NaN, Infinity, undefined and functions
 * are refused.
 */
export function canonicalJson(content: unknown): string {
  const text = canonicalize(content);
  if (text === undefined) throw new TypeError('A record to hash must be JSON (not undefined or a function).');
  return text;
}

/** SHA-256 (lower-case hex) of the text's UTF-8 bytes. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** SHA-256 (lower-case hex) of the RFC 8785 canonical JSON of `content`. */
export function canonicalSha256(content: unknown): string {
  return sha256Hex(canonicalJson(content));
}

export interface HashChain {
  /** The table; it has `id` (ascending in append order) and `hash` columns. */
  table: 'audit_trail' | 'signature_ledger';
  /**
   * The transaction-scoped advisory lock appenders take turns under: one bigint key, or two keys
   * hashed from names (a two-key lock never collides with single-key ones, such as the migrations').
   */
  lock: { key: number } | { names: [string, string] };
}

/**
 * Takes the chain's lock for the rest of the caller's transaction (which must be open): concurrent
 * appenders then take turns, so each sees the true last hash and the chain never forks.
 */
export async function lockChain(client: ClientBase, chain: HashChain): Promise<void> {
  if ('key' in chain.lock) await client.query('SELECT pg_advisory_xact_lock($1)', [chain.lock.key]);
  else await client.query('SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', chain.lock.names);
}

/** The hash the next row links to: the last row's, or the genesis hash of an empty chain. Call under lockChain. */
export async function chainTail(client: ClientBase, chain: HashChain): Promise<string> {
  const { rows } = await client.query<{ hash: string }>(`SELECT hash FROM ${chain.table} ORDER BY id DESC LIMIT 1`);
  return rows[0]?.hash ?? GENESIS_HASH;
}

export interface ChainRow {
  prevHash: string;
  hash: string;
}

export type ChainVerification<R> =
  | { ok: true; rows: number; lastHash: string }
  /** `rows` counts the broken row; `lastHash` is the last good row's hash. */
  | { ok: false; rows: number; lastHash: string; broken: R; problem: 'link' | 'content' };

export interface ChainReader<R extends ChainRow> {
  /** The next rows in id order after `after` (from the first row when undefined), at most `limit`. */
  page(after: R | undefined, limit: number): Promise<R[]>;
  /** The hash the row's content should have (its own hash recomputed). */
  hashOf(row: R): string;
  /** Called for each row that holds, in order. */
  verified?(row: R): void;
}

/**
 * Walks the chain in id order, page by page (its size never has to fit in memory), and checks each
 * row links to its predecessor's hash and matches its own. Stops at the first row that does not.
 * (Removing rows from the very end leaves a shorter valid chain; catching that needs the latest
 * hash kept elsewhere.)
 */
export async function verifyChain<R extends ChainRow>(reader: ChainReader<R>, pageSize = 1000): Promise<ChainVerification<R>> {
  let expectedPrev = GENESIS_HASH;
  let checked = 0;
  let last: R | undefined;
  for (;;) {
    const rows = await reader.page(last, pageSize);
    for (const row of rows) {
      checked += 1;
      if (row.prevHash !== expectedPrev) return { ok: false, rows: checked, lastHash: expectedPrev, broken: row, problem: 'link' };
      if (reader.hashOf(row) !== row.hash) return { ok: false, rows: checked, lastHash: expectedPrev, broken: row, problem: 'content' };
      reader.verified?.(row);
      expectedPrev = row.hash;
      last = row;
    }
    if (rows.length < pageSize) return { ok: true, rows: checked, lastHash: expectedPrev };
  }
}
