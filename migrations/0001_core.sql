-- Up Migration

-- Deviation numbers (DEV-YYYY-NNNNNN): the number is also the Temporal workflow ID.
CREATE SEQUENCE deviation_number_seq START 1;

-- A client's Idempotency-Key maps to exactly one deviation, whatever the number of retries or races.
CREATE TABLE idempotency_keys (
  idempotency_key text PRIMARY KEY CHECK (length(idempotency_key) BETWEEN 1 AND 200),
  request_hash    text NOT NULL,
  deviation_id    text NOT NULL UNIQUE,
  created_at      timestamptz NOT NULL DEFAULT now()
);

-- Read model of deviations for listing and filtering. Temporal holds the process state; an
-- activity keeps this table current, guarded by a version so a late write never overwrites a newer one.
CREATE TABLE deviations (
  id              text PRIMARY KEY,
  title           text NOT NULL,
  symptom         text NOT NULL,
  severity        text NOT NULL,
  stage           text NOT NULL,
  status          text NOT NULL DEFAULT 'open',
  batches         text[] NOT NULL,
  reported_by     text NOT NULL,
  detected_at     timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL,
  version         integer NOT NULL,
  sla_breached    boolean NOT NULL DEFAULT false,
  next_due_at     timestamptz,
  summary         jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX deviations_stage_idx ON deviations (stage);
CREATE INDEX deviations_severity_idx ON deviations (severity);
CREATE INDEX deviations_detected_at_idx ON deviations (detected_at DESC);
CREATE INDEX deviations_batches_idx ON deviations USING gin (batches);

-- Down Migration
DROP TABLE deviations;
DROP TABLE idempotency_keys;
DROP SEQUENCE deviation_number_seq;
