import { randomBytes } from 'node:crypto';
import { canonicalJson, sha256Hex, verifyChain } from '../db/hash-chain';
import { isPool, withTransaction, type Pool, type PoolClient } from '../db/pool';
import { storableCopy } from '../domain/text';

/**
 * The audit trail: who did what to which record, when, with before/after where it applies and
 * the reason the user gave. Rows are hash-chained (each hash covers the previous one), so any
 * edit, deletion or reordering made behind the database triggers' back shows up in
 * verifyAuditTrail.
 */
export interface AuditEntry {
  /** Login of the person, or 'system' / 'worker' for the engine itself, 'anonymous' when unknown. */
  actor: string;
  /** What happened, e.g. 'hold.placed', 'notification.sent', 'POST /deviations'. */
  action: string;
  entityType: string;
  entityId: string;
  deviationId?: string | null;
  before?: unknown;
  after?: unknown;
  reason?: string | null;
  /** Anything else worth keeping (HTTP method, path, body hash, status...). */
  details?: Record<string, unknown>;
  /** Defaults to now; pass the time the side effect happened when known. */
  at?: Date;
}

export interface AuditRow {
  id: string;
  at: string;
  actor: string;
  action: string;
  entityType: string;
  entityId: string;
  deviationId: string | null;
  before: unknown;
  after: unknown;
  reason: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

/** Appends take turns under an advisory lock whose key is any constant unique to this table. */
const AUDIT_LOCK_KEY = 4_711_300_301;

/** JSON values as jsonb will give them back: undefined dropped, dates as strings. */
function asStoredJson(value: unknown): unknown {
  return value === undefined ? null : storableJson(JSON.parse(JSON.stringify(value)));
}

/**
 * Text as PostgreSQL will hold it. A NUL is refused by text and jsonb, and a lone surrogate is
 * stored as U+FFFD: hashing what was sent rather than what is stored would break the chain at
 * that row. So every string of a row, keys of its JSON included, is made storable before it is
 * hashed and written.
 */
function storableJson(value: unknown): unknown {
  if (typeof value === 'string') return storableCopy(value);
  if (Array.isArray(value)) return value.map(storableJson);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [storableCopy(k), storableJson(v)]));
  return value;
}
const storable = (value: string | null | undefined): string | null => (value === undefined || value === null ? null : storableCopy(value));

/** The hashed content of a row: every column but id and hash, times as ISO strings (ms). */
export function auditHash(row: Omit<AuditRow, 'id' | 'hash'>): string {
  return sha256Hex(auditCanonicalText(row));
}

/** The RFC 8785 canonical JSON the row's hash is taken over. */
function auditCanonicalText(row: Omit<AuditRow, 'id' | 'hash'>): string {
  return canonicalJson({
    at: row.at,
    actor: row.actor,
    action: row.action,
    entityType: row.entityType,
    entityId: row.entityId,
    deviationId: row.deviationId,
    before: row.before ?? null,
    after: row.after ?? null,
    reason: row.reason,
    details: row.details,
    prevHash: row.prevHash,
  });
}

/**
 * Appends one row. With a Pool it runs in a transaction of its own; with a PoolClient it joins
 * the caller's transaction (which must be open), so the audit row commits or rolls back with
 * the change it records. The advisory lock makes concurrent appenders take turns, so each sees
 * the true last hash.
 */
export async function appendAudit(db: Pool | PoolClient, entry: AuditEntry): Promise<AuditRow> {
  if (isPool(db)) return withTransaction(db, (client) => appendAudit(client, entry));
  const [row] = await appendAuditRows(db, [entry]);
  return row!;
}

/** A row's content as it will be stored and hashed, linked to `prevHash`. */
function contentOf(entry: AuditEntry, prevHash: string): Omit<AuditRow, 'id' | 'hash'> {
  return {
    at: (entry.at ?? new Date()).toISOString(),
    actor: storableCopy(entry.actor),
    action: storableCopy(entry.action),
    entityType: storableCopy(entry.entityType),
    entityId: storableCopy(entry.entityId),
    deviationId: storable(entry.deviationId),
    before: asStoredJson(entry.before),
    after: asStoredJson(entry.after),
    reason: storable(entry.reason),
    details: (asStoredJson(entry.details ?? {}) ?? {}) as Record<string, unknown>,
    prevHash,
  };
}

/**
 * Appends several rows, in order, in the caller's transaction (which must be open), each linking to
 * the one before it and the first to the chain's tail. One statement (the database function
 * append_audit_rows) takes the chain's lock, reads the tail and inserts, so the lock, held to the
 * end of the transaction, waits on one round trip to this process (the commit) instead of three.
 * Writers that append many rows at once (audit/grouped-appends.ts) hold it once for all of them.
 *
 * Each row's canonical JSON is made here, with a one-off marker where the previous hash goes; the
 * function hashes the bytes on either side of the marker around the tail it read. The hashes it
 * answers are checked against the same text hashed here, so a disagreement between the two rolls
 * the caller's transaction back instead of storing a row that would fail verification.
 */
export async function appendAuditRows(client: PoolClient, entries: readonly AuditEntry[]): Promise<AuditRow[]> {
  if (entries.length === 0) return [];
  const marker = randomBytes(32).toString('hex');
  const prepared = entries.map((entry) => {
    const content = contentOf(entry, marker);
    const text = auditCanonicalText(content);
    const split = text.indexOf(marker);
    if (split < 0 || text.lastIndexOf(marker) !== split) throw new Error('audit row: the previous-hash marker must occur once');
    return { content, before: text.slice(0, split), after: text.slice(split + marker.length) };
  });
  const { rows: appended } = await client.query<{ row_id: string; row_prev_hash: string; row_hash: string }>(
    'SELECT row_id::text, row_prev_hash, row_hash FROM append_audit_rows($1, $2::jsonb)',
    [
      AUDIT_LOCK_KEY,
      JSON.stringify(
        prepared.map(({ content: c, before, after }) => ({
          at: c.at,
          actor: c.actor,
          action: c.action,
          entityType: c.entityType,
          entityId: c.entityId,
          deviationId: c.deviationId,
          before: c.before,
          after: c.after,
          reason: c.reason,
          details: c.details,
          hashPrefix: Buffer.from(before, 'utf8').toString('base64'),
          hashSuffix: Buffer.from(after, 'utf8').toString('base64'),
        })),
      ),
    ],
  );
  if (appended.length !== prepared.length) throw new Error('audit rows: the database appended a different number of rows');
  return prepared.map(({ content, before, after }, i) => {
    const { row_id: id, row_prev_hash: prevHash, row_hash: hash } = appended[i]!;
    if (sha256Hex(before + prevHash + after) !== hash) throw new Error('audit rows: the database hashed a row differently');
    // The chain is verified in id order: rows whose ids did not follow the order they link in would
    // read as broken. Refused (the caller's transaction rolls back) rather than stored so.
    if (i > 0 && (BigInt(id) <= BigInt(appended[i - 1]!.row_id) || prevHash !== appended[i - 1]!.row_hash)) {
      throw new Error('audit rows were numbered out of their chain order');
    }
    return { id, ...content, prevHash, hash };
  });
}

const SELECT_ROWS = `SELECT id::text, at, actor, action, entity_type, entity_id, deviation_id, before, after, reason, details, prev_hash, hash FROM audit_trail`;

interface DbRow {
  id: string;
  at: Date;
  actor: string;
  action: string;
  entity_type: string;
  entity_id: string;
  deviation_id: string | null;
  before: unknown;
  after: unknown;
  reason: string | null;
  details: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

function fromDb(r: DbRow): AuditRow {
  return {
    id: r.id,
    at: r.at.toISOString(),
    actor: r.actor,
    action: r.action,
    entityType: r.entity_type,
    entityId: r.entity_id,
    deviationId: r.deviation_id,
    before: r.before,
    after: r.after,
    reason: r.reason,
    details: r.details,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

export interface AuditFilter {
  deviation?: string;
  actor?: string;
  from?: Date;
  to?: Date;
  /** Rows after this id (keyset paging). */
  afterId?: string;
  limit: number;
}

/** One page of the trail, oldest first. */
export async function queryAudit(pool: Pool, f: AuditFilter): Promise<AuditRow[]> {
  const { rows } = await pool.query<DbRow>(
    `${SELECT_ROWS}
      WHERE ($1::text IS NULL OR deviation_id = $1)
        AND ($2::text IS NULL OR actor = $2)
        AND ($3::timestamptz IS NULL OR at >= $3)
        AND ($4::timestamptz IS NULL OR at < $4)
        AND ($5::bigint IS NULL OR id > $5)
      ORDER BY audit_trail.id
      LIMIT $6`,
    [f.deviation ?? null, f.actor ?? null, f.from ?? null, f.to ?? null, f.afterId ?? null, f.limit],
  );
  return rows.map(fromDb);
}

/** Every matching row, page by page, without holding the whole extract in memory. */
export async function* streamAudit(
  pool: Pool,
  f: Omit<AuditFilter, 'limit' | 'afterId'>,
  max = Number.MAX_SAFE_INTEGER,
): AsyncGenerator<AuditRow> {
  let afterId: string | undefined;
  let sent = 0;
  for (;;) {
    const page = await queryAudit(pool, { ...f, afterId, limit: Math.min(1000, max - sent) });
    for (const row of page) yield row;
    sent += page.length;
    if (page.length < 1000 || sent >= max) return;
    afterId = page[page.length - 1]!.id;
  }
}

export interface AuditVerification {
  ok: boolean;
  rows: number;
  lastHash: string;
  /** The first row that does not hold, and why. */
  firstProblem?: { id: string; problem: string };
  /** Rows written before body digests left secrets out (see carriesLegacySecretDigest). */
  legacySecretDigests: { rows: number; ids: string[] };
}

/**
 * Routes whose request body carried a password (sign-in, every electronic signature, password
 * changes and user creation), as the API's call rows name them in `action`.
 */
const SECRET_BEARING_ACTION =
  /^POST \/(auth\/login|users(\/:id\/password)?|tasks\/:id\/(sign|reject)|deviations\/:id\/(cancel|change-controls\/:cc\/(approve|verify)))$/;

/**
 * A row of the trail holding the plain SHA-256 of a body that carried a password. Until the
 * digest became an HMAC without secret fields, `details.bodySha256` let anyone who can read the
 * trail confirm a guessed password. The trail is append-only, so such rows stay; the
 * verification lists them so the exposure can be assessed (and the passwords of the people who
 * signed in or signed before then changed).
 */
export function carriesLegacySecretDigest(row: Pick<AuditRow, 'action' | 'details'>): boolean {
  return typeof row.details?.bodySha256 === 'string' && SECRET_BEARING_ACTION.test(row.action);
}
const LEGACY_IDS_LISTED = 100;

/**
 * Recomputes every hash in id order and checks each row names its predecessor's hash: an edited
 * row fails its own hash, a deleted or inserted one breaks the link.
 */
export async function verifyAuditTrail(pool: Pool): Promise<AuditVerification> {
  const legacySecretDigests = { rows: 0, ids: [] as string[] };
  const result = await verifyChain<AuditRow>({
    page: async (after, limit) => {
      const { rows } = await pool.query<DbRow>(`${SELECT_ROWS} WHERE id > $1 ORDER BY audit_trail.id LIMIT $2`, [after?.id ?? '0', limit]);
      return rows.map(fromDb);
    },
    hashOf: ({ id: _id, hash: _hash, ...content }) => auditHash(content),
    verified: (row) => {
      if (!carriesLegacySecretDigest(row)) return;
      legacySecretDigests.rows += 1;
      if (legacySecretDigests.ids.length < LEGACY_IDS_LISTED) legacySecretDigests.ids.push(row.id);
    },
  });
  if (result.ok) return { ok: true, rows: result.rows, lastHash: result.lastHash, legacySecretDigests };
  const problem =
    result.problem === 'link'
      ? 'prev_hash does not match the preceding row: a row was removed, inserted or reordered'
      : 'content does not match its hash: the row was altered';
  return { ok: false, rows: result.rows, lastHash: result.lastHash, firstProblem: { id: result.broken.id, problem }, legacySecretDigests };
}

export const AUDIT_CSV_COLUMNS = [
  'id',
  'at',
  'actor',
  'action',
  'entity_type',
  'entity_id',
  'deviation_id',
  'reason',
  'before',
  'after',
  'details',
  'prev_hash',
  'hash',
] as const;

function csvCell(value: unknown): string {
  const text = value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  // Cells that a spreadsheet would run as a formula are prefixed with a quote (CSV injection).
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function auditCsvHeader(): string {
  return `${AUDIT_CSV_COLUMNS.join(',')}\r\n`;
}

export function auditCsvLine(r: AuditRow): string {
  return `${[r.id, r.at, r.actor, r.action, r.entityType, r.entityId, r.deviationId, r.reason, r.before, r.after, r.details, r.prevHash, r.hash].map(csvCell).join(',')}\r\n`;
}
