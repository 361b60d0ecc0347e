-- Up Migration

-- The serialization process, one point per batch: what its latest reconciliation found, per line
-- and product, for the control charts and the discrepancy trending. Written in the transaction that
-- stores the reconciliation report, so a point exists exactly when its report does; reconciling the
-- batch again replaces the counts (the newest report wins) but keeps the batch's place in the
-- series (first_recorded_at), so a chart never gains a second point for one batch.
CREATE TABLE batch_metrics (
  batch_id           bigint PRIMARY KEY REFERENCES batches (id),
  line               text,
  gtin               char(14) NOT NULL,
  lot                text NOT NULL,
  report_id          text NOT NULL REFERENCES reconciliation_reports (id),
  content_hash       char(64) NOT NULL,
  commissioned       integer NOT NULL CHECK (commissioned >= 0),
  packed             integer NOT NULL CHECK (packed >= 0),
  rejected           integer NOT NULL CHECK (rejected >= 0),
  sampled            integer NOT NULL CHECK (sampled >= 0),
  destroyed          integer NOT NULL CHECK (destroyed >= 0),
  unaccounted_units  integer NOT NULL CHECK (unaccounted_units >= 0),
  duplicate_serial   integer NOT NULL CHECK (duplicate_serial >= 0),
  aggregation_error  integer NOT NULL CHECK (aggregation_error >= 0),
  missing_report     integer NOT NULL CHECK (missing_report >= 0),
  lost_packaging     integer NOT NULL CHECK (lost_packaging >= 0),
  unaccounted        integer NOT NULL CHECK (unaccounted >= 0),
  first_recorded_at  timestamptz NOT NULL DEFAULT now(),
  recorded_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX batch_metrics_series_idx ON batch_metrics (line, gtin, first_recorded_at, batch_id);

-- Down Migration

DROP TABLE batch_metrics;
