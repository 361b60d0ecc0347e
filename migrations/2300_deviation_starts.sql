-- Up Migration

-- The workflow start of each deviation opened through the API, recorded in the transaction that
-- places its distribution holds and records the request. The answer leaves once that transaction
-- commits; the workflow is then started from this row, by the API process that took the request or,
-- should that process stop first (or Temporal be unreachable), by any API process's sweep. Starting
-- is idempotent (the deviation's number is its workflow ID), so a row started twice is one workflow.
CREATE TABLE deviation_starts (
  deviation_id  text PRIMARY KEY,
  -- What the workflow is started with (the deviation's input as the API built it).
  input         jsonb NOT NULL,
  opened_at     timestamptz NOT NULL DEFAULT now(),
  started_at    timestamptz,
  attempts      integer NOT NULL DEFAULT 0,
  last_error    text CHECK (length(last_error) <= 1000)
);

CREATE INDEX deviation_starts_waiting ON deviation_starts (opened_at) WHERE started_at IS NULL;

-- Down Migration

DROP TABLE deviation_starts;
