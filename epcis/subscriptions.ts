import type { Queryable } from '../db/pool';
import { eventQuerySchema, eventFilterOf, type EventFilter } from '../domain/epcis-query';
import { queryJsonOf, type NamedQueryView, type SubscriptionView } from '../domain/epcis-subscriptions';

/**
 * Named queries and webhook subscriptions as stored (migration 2100). What reaches the audit trail
 * and the answers is built by the API service (api/services/epcis-subscriptions.ts) from the views
 * here, which never hold a subscription's token.
 */

/** The filter a named query's stored parameters ask for (they were checked by the same schema when stored). */
export function filterOfParams(params: Record<string, string>): EventFilter {
  return eventFilterOf(eventQuerySchema.parse(params));
}

interface QueryRow {
  name: string;
  params: Record<string, string>;
  created_by: string;
  created_at: Date;
}

const queryView = (r: QueryRow): NamedQueryView => ({
  name: r.name,
  query: queryJsonOf(r.params),
  createdBy: r.created_by,
  createdAt: r.created_at.toISOString(),
});

/** Stores a named query; null when the name is taken. */
export async function insertNamedQuery(
  db: Queryable,
  q: { name: string; params: Record<string, string>; createdBy: string },
): Promise<NamedQueryView | null> {
  const { rows } = await db.query<QueryRow>(
    `INSERT INTO epcis_named_queries (name, params, created_by) VALUES ($1, $2, $3)
     ON CONFLICT (name) DO NOTHING RETURNING name, params, created_by, created_at`,
    [q.name, JSON.stringify(q.params), q.createdBy],
  );
  return rows[0] ? queryView(rows[0]) : null;
}

export async function namedQuery(db: Queryable, name: string, opts: { lock?: boolean } = {}) {
  const { rows } = await db.query<QueryRow>(
    `SELECT name, params, created_by, created_at FROM epcis_named_queries WHERE name = $1${opts.lock ? ' FOR UPDATE' : ''}`,
    [name],
  );
  const row = rows[0];
  return row ? { view: queryView(row), params: row.params } : null;
}

/** A page of named queries in name order, after `after` (the last name of the page before). */
export async function namedQueries(db: Queryable, page: { perPage: number; after?: string }) {
  const { rows } = await db.query<QueryRow>(
    `SELECT name, params, created_by, created_at FROM epcis_named_queries
      WHERE ($1::text IS NULL OR name > $1) ORDER BY name COLLATE "C" LIMIT $2`,
    [page.after ?? null, page.perPage + 1],
  );
  return { items: rows.slice(0, page.perPage).map(queryView), more: rows.length > page.perPage };
}

export async function deleteNamedQuery(db: Queryable, name: string): Promise<void> {
  await db.query('DELETE FROM epcis_named_queries WHERE name = $1', [name]);
}

/** A cursor's event part once the whole document is done (epcis/subscription-delivery.ts). */
export const WHOLE_DOCUMENT = '9223372036854775807';

interface SubscriptionRow {
  id: string;
  query_name: string;
  dest: string;
  signed: boolean;
  min_record_time: Date;
  created_by: string;
  created_at: Date;
  last_notified_at: Date | null;
  delivered_events: string;
  attempts: number;
  next_attempt_at: Date;
  last_error: string | null;
}

const SUBSCRIPTION_COLUMNS = `id, query_name, dest, token_sealed IS NOT NULL AS signed, min_record_time, created_by, created_at,
  last_notified_at, delivered_events::text, attempts, next_attempt_at, last_error`;

const subscriptionView = (r: SubscriptionRow): SubscriptionView => ({
  subscriptionID: r.id,
  queryName: r.query_name,
  dest: r.dest,
  stream: true,
  signed: r.signed,
  initialRecordTime: r.min_record_time.toISOString(),
  createdAt: r.created_at.toISOString(),
  createdBy: r.created_by,
  lastNotifiedAt: r.last_notified_at?.toISOString() ?? null,
  deliveredEvents: Number(r.delivered_events),
  delivery: { attempts: r.attempts, nextAttemptAt: r.next_attempt_at.toISOString(), lastError: r.last_error },
});

/**
 * Stores a stream subscription starting at `initialRecordTime` (now when absent). Its cursor starts
 * just before the first document of the feed recorded from then on, or at the feed's end when none
 * is numbered yet: a document numbered later has a larger number anyway. Delivery then also checks
 * each event's record time, since the feed's order (commit order) is not quite record-time order.
 */
export async function insertSubscription(
  db: Queryable,
  s: { id: string; queryName: string; dest: string; tokenSealed: Buffer | null; initialRecordTime?: string; createdBy: string },
): Promise<SubscriptionView> {
  const { rows } = await db.query<SubscriptionRow>(
    `WITH start AS (SELECT coalesce($5::timestamptz, now()) AS at),
          first_seq AS (SELECT min(f.seq) AS seq FROM epcis_record_feed f JOIN epcis_documents d ON d.id = f.document_id, start
                         WHERE d.captured_at >= start.at AND f.seq IS NOT NULL)
     INSERT INTO epcis_subscriptions (id, query_name, dest, token_sealed, min_record_time, cursor_seq, cursor_event, created_by)
     SELECT $1, $2, $3, $4, start.at,
            coalesce((SELECT seq - 1 FROM first_seq), (SELECT max(seq) FROM epcis_record_feed), 0), ${WHOLE_DOCUMENT}, $6
       FROM start
     RETURNING ${SUBSCRIPTION_COLUMNS}`,
    [s.id, s.queryName, s.dest, s.tokenSealed, s.initialRecordTime ?? null, s.createdBy],
  );
  return subscriptionView(rows[0]!);
}

export async function subscription(db: Queryable, queryName: string, id: string): Promise<SubscriptionView | null> {
  const { rows } = await db.query<SubscriptionRow>(
    `SELECT ${SUBSCRIPTION_COLUMNS} FROM epcis_subscriptions WHERE query_name = $1 AND id = $2`,
    [queryName, id],
  );
  return rows[0] ? subscriptionView(rows[0]) : null;
}

/** A page of a query's subscriptions, oldest first, after the subscription `after` (the last of the page before). */
export async function subscriptions(db: Queryable, queryName: string, page: { perPage: number; after?: string }) {
  const { rows } = await db.query<SubscriptionRow>(
    `SELECT ${SUBSCRIPTION_COLUMNS} FROM epcis_subscriptions s
      WHERE query_name = $1
        AND ($2::uuid IS NULL OR (created_at, id) > (SELECT created_at, id FROM epcis_subscriptions WHERE id = $2))
      ORDER BY created_at, id LIMIT $3`,
    [queryName, page.after ?? null, page.perPage + 1],
  );
  return { items: rows.slice(0, page.perPage).map(subscriptionView), more: rows.length > page.perPage };
}

/** Removes subscriptions (all of the query's when `id` is absent); the views of those removed. */
export async function deleteSubscriptions(db: Queryable, queryName: string, id?: string): Promise<SubscriptionView[]> {
  const { rows } = await db.query<SubscriptionRow>(
    `DELETE FROM epcis_subscriptions WHERE query_name = $1 AND ($2::uuid IS NULL OR id = $2) RETURNING ${SUBSCRIPTION_COLUMNS}`,
    [queryName, id ?? null],
  );
  return rows.map(subscriptionView);
}
