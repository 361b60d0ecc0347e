-- Up Migration

-- When the line system said a batch was done (POST /batches/{lot}/complete): the first time counts,
-- a repeated completion keeps it. Missing repository reports are judged only a grace period after it.
ALTER TABLE batches ADD COLUMN completed_at timestamptz;

-- What the line monitors (workflows/line-monitor.ts) made of each batch's point: one row per batch
-- and signal, the signal being `threshold:<metric>` or `rule:<chart ID>:<rule>`. Claiming the row and
-- binding it to a deviation happen in one transaction, so evaluating the same point again (an
-- activity retried, a worker restarted mid-evaluation, the batch completed or reconciled again)
-- finds the row and never opens a second deviation.
--   opened   the monitor opens deviation_id (its number allocated in the claim; deviation_input is
--            what it starts the workflow with, so a retry starts the very same deviation)
--   linked   deviation_id was already open on the line for the same symptom: the signal was sent to
--            it as a recurrence
-- delivered_at is set once the deviation was started or told; until then, evaluating the point
-- again answers the same action, so a claim whose action was lost is carried out, and only once.
CREATE TABLE monitoring_signals (
  batch_id         bigint NOT NULL REFERENCES batches (id),
  signal           text NOT NULL CHECK (length(signal) BETWEEN 1 AND 300),
  line             text NOT NULL,
  gtin             char(14) NOT NULL,
  lot              text NOT NULL,
  kind             text NOT NULL CHECK (kind IN ('threshold', 'rule')),
  metric           text NOT NULL,
  symptom          text NOT NULL,
  severity         text NOT NULL,
  report_id        text NOT NULL REFERENCES reconciliation_reports (id),
  -- What was found: the value, the threshold or rule, the chart and its points.
  evidence         jsonb NOT NULL,
  disposition      text NOT NULL CHECK (disposition IN ('opened', 'linked')),
  deviation_id     text NOT NULL,
  deviation_input  jsonb,
  -- A deviation the link could not reach (it had closed meanwhile): the signal opened a new one instead.
  unreachable      text,
  claimed_at       timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz,
  PRIMARY KEY (batch_id, signal),
  CHECK ((disposition = 'opened') = (deviation_input IS NOT NULL))
);
-- The deviations monitoring opened on a line, by symptom: the next signal links to one still open.
CREATE INDEX monitoring_signals_open_idx ON monitoring_signals (line, symptom, claimed_at) WHERE disposition = 'opened';
CREATE INDEX monitoring_signals_deviation_idx ON monitoring_signals (deviation_id);

-- Down Migration

DROP TABLE monitoring_signals;
ALTER TABLE batches DROP COLUMN completed_at;
