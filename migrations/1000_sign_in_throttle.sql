-- Up Migration

-- Sign-in throttling and lockout (21 CFR 11.300(d)), shared by every API process. One row per
-- typed login (scope 'login', the login lower-cased as typed, whether or not it names anybody, so
-- a lock never tells who exists) and one per client address (scope 'address': an IPv4 address or
-- an IPv6 /64). `failures` counts failed password checks since `window_started_at`; `pending`
-- counts checks that were let through and are still hashing, so concurrent attempts cannot run
-- more checks than the limit allows; `locked_until` refuses every attempt, even with the right
-- password, until it passes. Rows are state, not a record (the record is security_log): stale ones
-- are deleted as new attempts come in (auth/sign-in-throttle.ts).
CREATE TABLE IF NOT EXISTS sign_in_throttle (
  scope              text NOT NULL CHECK (scope IN ('login', 'address')),
  key                text NOT NULL CHECK (length(key) <= 320),
  window_started_at  timestamptz NOT NULL DEFAULT now(),
  failures           integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
  pending            integer NOT NULL DEFAULT 0 CHECK (pending >= 0),
  locked_until       timestamptz,
  PRIMARY KEY (scope, key)
);
CREATE INDEX IF NOT EXISTS sign_in_throttle_window_idx ON sign_in_throttle (window_started_at);

-- The security log learns the lockout and the refused (throttled) attempt.
ALTER TABLE security_log DROP CONSTRAINT IF EXISTS security_log_event_check;
ALTER TABLE security_log ADD CONSTRAINT security_log_event_check CHECK (event IN (
  'login_failed', 'signature_reauth_failed', 'signing_locked', 'password_change_failed',
  'login_locked', 'login_throttled'));

-- Down Migration

DROP TABLE IF EXISTS sign_in_throttle;
-- security_log is append-only, so rows of the new kinds stay: the old rule holds for new rows
-- only (NOT VALID), and the history is kept.
ALTER TABLE security_log DROP CONSTRAINT IF EXISTS security_log_event_check;
ALTER TABLE security_log ADD CONSTRAINT security_log_event_check CHECK (event IN (
  'login_failed', 'signature_reauth_failed', 'signing_locked', 'password_change_failed')) NOT VALID;
