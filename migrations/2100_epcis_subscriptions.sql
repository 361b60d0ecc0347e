-- Up Migration

-- Named queries of the EPCIS 2.0 REST binding (POST /epcis/queries): a name and the query
-- parameters as GET /epcis/events takes them (each list pipe-joined), validated with the same schema.
CREATE TABLE epcis_named_queries (
  name        text PRIMARY KEY,
  params      jsonb NOT NULL,
  created_by  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- The order in which subscriptions see captured documents. Event row IDs cannot serve: two captures
-- running at once draw their IDs first and commit in either order, so a cursor past the later IDs
-- would skip the earlier ones when they commit. Every document enters this feed inside its capture's
-- transaction (the trigger below: one small row, nothing waits on a receiver); a sequencer numbers
-- the committed ones later, one sequencer at a time (an advisory lock), so a number is visible only
-- after every smaller one is. A subscription's cursor is (seq, event row ID).
CREATE TABLE epcis_record_feed (
  document_id  bigint PRIMARY KEY,
  seq          bigint UNIQUE
);
CREATE INDEX epcis_record_feed_unsequenced_idx ON epcis_record_feed (document_id) WHERE seq IS NULL;

CREATE FUNCTION epcis_record_feed_enter() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO epcis_record_feed (document_id) VALUES (NEW.id);
  RETURN NULL;
END;
$$;
CREATE TRIGGER epcis_documents_enter_record_feed AFTER INSERT ON epcis_documents
  FOR EACH ROW EXECUTE FUNCTION epcis_record_feed_enter();

-- Documents captured before this migration, in the order of their IDs.
INSERT INTO epcis_record_feed (document_id, seq)
SELECT id, row_number() OVER (ORDER BY id) FROM epcis_documents;

-- Webhook subscriptions to named queries. The client's signatureToken is kept sealed (AES-256-GCM
-- under EPCIS_SUBSCRIPTION_KEY, the row's ID as associated data: epcis/subscription-tokens.ts): the
-- HMAC of each delivery needs the token itself, so it cannot be hashed, and a database dump or
-- backup must not hand it out. Delivery state: everything up to (cursor_seq, cursor_event) was
-- acknowledged by the receiver; a batch that failed is retried up to the same position
-- (batch_through_*), so a receiver sees the same batch under the same Idempotency-Key.
CREATE TABLE epcis_subscriptions (
  id                   uuid PRIMARY KEY,
  query_name           text NOT NULL REFERENCES epcis_named_queries (name),
  dest                 text NOT NULL,
  token_sealed         bytea,
  min_record_time      timestamptz NOT NULL,
  cursor_seq           bigint NOT NULL,
  cursor_event         bigint NOT NULL,
  batch_through_seq    bigint,
  batch_through_event  bigint,
  attempts             integer NOT NULL DEFAULT 0,
  next_attempt_at      timestamptz NOT NULL DEFAULT now(),
  last_error           text,
  last_notified_at     timestamptz,
  delivered_events     bigint NOT NULL DEFAULT 0,
  created_by           text NOT NULL,
  created_at           timestamptz NOT NULL DEFAULT now(),
  CHECK ((batch_through_seq IS NULL) = (batch_through_event IS NULL))
);
CREATE INDEX epcis_subscriptions_query_idx ON epcis_subscriptions (query_name, created_at, id);
CREATE INDEX epcis_subscriptions_due_idx ON epcis_subscriptions (next_attempt_at);

-- Down Migration
DROP TABLE epcis_subscriptions;
DROP TRIGGER epcis_documents_enter_record_feed ON epcis_documents;
DROP FUNCTION epcis_record_feed_enter();
DROP TABLE epcis_record_feed;
DROP TABLE epcis_named_queries;
