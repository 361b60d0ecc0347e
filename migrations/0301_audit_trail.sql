-- Up Migration

-- The audit trail (21 CFR 11.10(e), Annex 11 §9): every API call that changes something and every
-- side effect an activity performs. Append-only and hash-chained: hash is SHA-256 over the
-- canonical JSON (RFC 8785) of the row's content including prev_hash; the first row's prev_hash
-- is 64 zeros. Appends are serialised by an advisory lock in the application; UNIQUE (prev_hash)
-- means the chain cannot fork even if an append bypassed it.
CREATE TABLE audit_trail (
  id            bigserial PRIMARY KEY,
  at            timestamptz NOT NULL,
  actor         text NOT NULL CHECK (length(actor) BETWEEN 1 AND 200),
  action        text NOT NULL CHECK (length(action) BETWEEN 1 AND 200),
  entity_type   text NOT NULL CHECK (length(entity_type) BETWEEN 1 AND 100),
  entity_id     text NOT NULL CHECK (length(entity_id) BETWEEN 1 AND 500),
  deviation_id  text,
  before        jsonb,
  after         jsonb,
  reason        text,
  details       jsonb NOT NULL DEFAULT '{}'::jsonb,
  prev_hash     text NOT NULL UNIQUE CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  hash          text NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$')
);
CREATE INDEX audit_trail_deviation_idx ON audit_trail (deviation_id, id) WHERE deviation_id IS NOT NULL;
CREATE INDEX audit_trail_actor_idx ON audit_trail (actor, id);
CREATE INDEX audit_trail_at_idx ON audit_trail (at);

CREATE FUNCTION refuse_change_to_audit_trail() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_trail is append-only: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_trail_append_only
  BEFORE UPDATE OR DELETE ON audit_trail
  FOR EACH ROW EXECUTE FUNCTION refuse_change_to_audit_trail();
CREATE TRIGGER audit_trail_no_truncate
  BEFORE TRUNCATE ON audit_trail
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change_to_audit_trail();

-- Down Migration
DROP TABLE audit_trail;
DROP FUNCTION refuse_change_to_audit_trail();
