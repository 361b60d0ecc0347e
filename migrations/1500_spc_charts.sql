-- Up Migration

-- One control chart per watched line and charted metric, for the whole line (gtin NULL, "ALL" in
-- its ID) and for each product made on it. A chart reads its points from batch_metrics; what is
-- stored here is what QA decided about it: its rules and, once approved, its frozen baseline.
-- The ID is readable and stable (line.ALL|gtin.metric); the columns it is made of are kept too, so
-- nothing ever parses it.
CREATE TABLE spc_charts (
  id                  text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 120),
  line                text NOT NULL,
  gtin                char(14) CHECK (gtin ~ '^[0-9]{14}$'),
  metric              text NOT NULL,
  measure             text NOT NULL CHECK (measure IN ('proportion', 'rate')),
  -- Chosen at approval, from the baseline's own dispersion (Laney when over-dispersed).
  kind                text CHECK (kind IN ('laney_p', 'p', 'laney_u', 'u')),
  -- The chart's rule set (spcRulesSchema): the policy's default at creation, then signed changes only.
  rules               jsonb NOT NULL,
  status              text NOT NULL DEFAULT 'collecting' CHECK (status IN ('collecting', 'ready', 'approved')),
  -- Phase II: the frozen SpcBaseline, the batches it was computed from (in series order), the
  -- approving signature and when it was given. All or none of them, and only when approved.
  baseline            jsonb,
  baseline_batches    bigint[],
  approval_ledger_id  bigint REFERENCES signature_ledger (id),
  approved_at         timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE NULLS NOT DISTINCT (line, gtin, metric),
  CHECK ((status = 'approved') = (baseline IS NOT NULL)),
  CHECK ((baseline IS NULL) = (kind IS NULL)
     AND (baseline IS NULL) = (baseline_batches IS NULL)
     AND (baseline IS NULL) = (approval_ledger_id IS NULL)
     AND (baseline IS NULL) = (approved_at IS NULL))
);
CREATE INDEX spc_charts_metric_idx ON spc_charts (metric, line);

-- Every signed change of a chart (baseline approval, rule change): who signed, when, with which
-- meaning and reason, the ledger row of the signature and the record it covers (before/after).
-- Append-only, like the ledger: the history of a controlled change is never rewritten.
CREATE TABLE spc_chart_changes (
  id            bigserial PRIMARY KEY,
  chart_id      text NOT NULL REFERENCES spc_charts (id),
  -- 1, 2, … per chart: the signature's task ID in the ledger is built from it.
  seq           integer NOT NULL CHECK (seq >= 1),
  kind          text NOT NULL CHECK (kind IN ('baseline_approved', 'rules_changed')),
  signer_id     uuid NOT NULL REFERENCES users (id),
  signer_login  text NOT NULL,
  printed_name  text NOT NULL,
  meaning       text NOT NULL,
  reason        text,
  record_hash   text NOT NULL CHECK (record_hash ~ '^[0-9a-f]{64}$'),
  ledger_id     bigint NOT NULL UNIQUE REFERENCES signature_ledger (id),
  before        jsonb,
  after         jsonb NOT NULL,
  changed_at    timestamptz NOT NULL,
  UNIQUE (chart_id, seq)
);

CREATE TRIGGER spc_chart_changes_append_only
  BEFORE UPDATE OR DELETE ON spc_chart_changes
  FOR EACH ROW EXECUTE FUNCTION refuse_change_to_append_only();
CREATE TRIGGER spc_chart_changes_no_truncate
  BEFORE TRUNCATE ON spc_chart_changes
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change_to_append_only();

-- Down Migration

DROP TABLE spc_chart_changes;
DROP TABLE spc_charts;
