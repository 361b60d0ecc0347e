-- Up Migration

-- People who sign in and sign. Roles are checked against domain/roles.ts by the application; the
-- table only keeps them non-empty. A user is never deleted (their signatures name them): they are
-- deactivated instead.
CREATE TABLE users (
  id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  login                   text NOT NULL CHECK (login = lower(login) AND length(login) BETWEEN 3 AND 64),
  printed_name            text NOT NULL CHECK (length(printed_name) BETWEEN 1 AND 200),
  email                   text NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
  roles                   text[] NOT NULL CHECK (cardinality(roles) > 0),
  active                  boolean NOT NULL DEFAULT true,
  -- scrypt$<params>$<salt>$<hash>: the parameters travel with the hash so they can be raised later.
  password_hash           text NOT NULL,
  password_changed_at     timestamptz NOT NULL DEFAULT now(),
  -- Set by an administrator's reset: the person should choose their own password next.
  password_must_change    boolean NOT NULL DEFAULT false,
  -- Signing lock after repeated failed re-authentication (21 CFR 11.300(d)); failures counted
  -- from security_log since the later of the window start and this reset point.
  signing_locked_until    timestamptz,
  signing_failures_reset_at timestamptz NOT NULL DEFAULT now(),
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_login_key ON users (login);
CREATE INDEX users_roles_idx ON users USING gin (roles);

-- Opaque session tokens: only their SHA-256 is kept, so a copy of this table signs nobody in.
CREATE TABLE sessions (
  id            bigserial PRIMARY KEY,
  token_hash    text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  user_id       uuid NOT NULL REFERENCES users (id),
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,            -- absolute lifetime; idle expiry is last_seen_at + the configured minutes
  revoked_at    timestamptz,
  remote_address text
);
CREATE INDEX sessions_user_idx ON sessions (user_id) WHERE revoked_at IS NULL;

-- Keys for machine clients (EPCIS capture). Keys are long random strings, so a SHA-256 is enough
-- to keep them unusable from a copy of the table; the prefix lets people tell keys apart.
CREATE TABLE api_keys (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  key_prefix    text NOT NULL,
  key_hash      text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
  roles         text[] NOT NULL CHECK (cardinality(roles) > 0),
  created_by    uuid NOT NULL REFERENCES users (id),
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz,
  revoked_at    timestamptz,
  revoked_by    uuid REFERENCES users (id)
);

-- Security-relevant events (failed sign-ins, failed signature re-authentication, signing locks):
-- append-only, like the ledger, so an intruder's traces cannot be tidied away through the application.
CREATE TABLE security_log (
  id             bigserial PRIMARY KEY,
  at             timestamptz NOT NULL DEFAULT now(),
  event          text NOT NULL CHECK (event IN (
                   'login_failed', 'signature_reauth_failed', 'signing_locked', 'password_change_failed')),
  user_id        uuid REFERENCES users (id),   -- null when the login named nobody
  login          text,                         -- as typed (bounded), to see guessing patterns
  remote_address text,
  detail         jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX security_log_user_event_idx ON security_log (user_id, event, at);
CREATE INDEX security_log_at_idx ON security_log (at DESC);

-- Electronic signatures (21 CFR 11.50, 11.70, 11.10(e)). Append-only and hash-chained: hash is
-- SHA-256 over the canonical JSON of the row's content including prev_hash; the first row's
-- prev_hash is 64 zeros. UNIQUE (prev_hash) means two rows can never claim the same predecessor,
-- so the chain cannot fork even if an append bypassed the application's advisory lock.
CREATE TABLE signature_ledger (
  id            bigserial PRIMARY KEY,
  task_id       text NOT NULL CHECK (length(task_id) BETWEEN 1 AND 200),
  deviation_id  text NOT NULL CHECK (length(deviation_id) BETWEEN 1 AND 100),
  signer_id     uuid NOT NULL REFERENCES users (id),
  signer_login  text NOT NULL,
  printed_name  text NOT NULL,
  meaning       text NOT NULL CHECK (meaning IN ('authored', 'reviewed', 'approved', 'verified', 'rejected')),
  signed_at     timestamptz NOT NULL,
  record_hash   text NOT NULL CHECK (record_hash ~ '^[0-9a-f]{64}$'),
  comment       text,
  prev_hash     text NOT NULL UNIQUE CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  hash          text NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$'),
  -- A retried activity appends one row, not two.
  UNIQUE (task_id, signer_id, meaning)
);
CREATE INDEX signature_ledger_deviation_idx ON signature_ledger (deviation_id, id);

CREATE FUNCTION refuse_change_to_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER signature_ledger_append_only
  BEFORE UPDATE OR DELETE ON signature_ledger
  FOR EACH ROW EXECUTE FUNCTION refuse_change_to_append_only();
CREATE TRIGGER signature_ledger_no_truncate
  BEFORE TRUNCATE ON signature_ledger
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change_to_append_only();

CREATE TRIGGER security_log_append_only
  BEFORE UPDATE OR DELETE ON security_log
  FOR EACH ROW EXECUTE FUNCTION refuse_change_to_append_only();
CREATE TRIGGER security_log_no_truncate
  BEFORE TRUNCATE ON security_log
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change_to_append_only();

-- Down Migration
DROP TABLE signature_ledger;
DROP TABLE security_log;
DROP FUNCTION refuse_change_to_append_only();
DROP TABLE api_keys;
DROP TABLE sessions;
DROP TABLE users;
