-- Up Migration

-- EMVS alerts (EU FMD) and DSCSA verifications become deviations through the claims the line monitors
-- use (monitoring_signals): exactly one claim per alert or verification, bound to a deviation opened
-- for it or to the one already open for the same batch and cause. Such a claim has no reconciliation
-- report, and its batch or line may be unknown to the company (an alert naming a lot it never made),
-- so those columns take NULL for the two new kinds; the key (batch, signal) stays unique, a claim
-- without a batch counting as one batch (the signal names the alert, which is unique by itself).
ALTER TABLE monitoring_signals DROP CONSTRAINT monitoring_signals_pkey;
ALTER TABLE monitoring_signals
  ALTER COLUMN batch_id DROP NOT NULL,
  ALTER COLUMN line DROP NOT NULL,
  ALTER COLUMN report_id DROP NOT NULL,
  ADD CONSTRAINT monitoring_signals_batch_signal_key UNIQUE NULLS NOT DISTINCT (batch_id, signal);
ALTER TABLE monitoring_signals DROP CONSTRAINT monitoring_signals_kind_check;
ALTER TABLE monitoring_signals
  ADD CONSTRAINT monitoring_signals_kind_check CHECK (kind IN ('threshold', 'rule', 'emvs_alert', 'dscsa_verification')),
  ADD CONSTRAINT monitoring_signals_point_check CHECK (
    kind IN ('emvs_alert', 'dscsa_verification') OR (batch_id IS NOT NULL AND line IS NOT NULL AND report_id IS NOT NULL));
-- The alert deviation a new alert of the same product, batch and cause is linked to.
CREATE INDEX monitoring_signals_alert_scope_idx ON monitoring_signals (gtin, lot, metric, claimed_at)
  WHERE kind IN ('emvs_alert', 'dscsa_verification') AND disposition = 'opened';
-- Claims whose deviation has not been started or told yet: the API's delivery rounds read these.
CREATE INDEX monitoring_signals_alert_undelivered_idx ON monitoring_signals (claimed_at)
  WHERE kind IN ('emvs_alert', 'dscsa_verification') AND delivered_at IS NULL;

-- An EMVS alert as the on-boarding partner passed it on, with what the company's own data said of the
-- pack when it arrived (cross_check) and what that makes of it. The alert ID is the key: the same
-- alert sent again is the same row; the same ID with other content is refused (request_hash).
CREATE TABLE emvs_alerts (
  alert_id          text PRIMARY KEY CHECK (length(alert_id) BETWEEN 1 AND 100),
  alert_code        text NOT NULL,
  return_code       text,
  message           text,
  gtin              char(14) NOT NULL,
  lot               text NOT NULL,
  serial            text NOT NULL,
  -- As given: GS1 YYMMDD (a day of 00 names the month) or an ISO date.
  expiry            text,
  market            char(2) NOT NULL,
  raised_at         timestamptz NOT NULL,
  status            text NOT NULL CHECK (status IN ('new', 'active', 'under_investigation', 'escalated', 'closed')),
  status_reason     text,
  status_changed_at timestamptz,
  status_changed_by text,
  received_at       timestamptz NOT NULL DEFAULT now(),
  received_by       text NOT NULL,
  request_hash      char(64) NOT NULL,
  cross_check       jsonb NOT NULL,
  classification    text NOT NULL CHECK (classification IN ('not_own_product', 'mah_error', 'suspected_falsification')),
  cause             text NOT NULL,
  -- The claim (monitoring_signals.signal, `emvs:<alert ID>`) and its deviation; none for another company's product.
  signal            text,
  deviation_id      text,
  -- A suspected falsification starts the deviation's regulatory notification clock (EU FMD): when it did,
  -- or why it could not (the deviation had moved past where the step is allowed).
  clock_required    boolean NOT NULL DEFAULT false,
  clock_started_at  timestamptz,
  clock_refused     text
);
CREATE INDEX emvs_alerts_batch_idx ON emvs_alerts (gtin, lot);
CREATE INDEX emvs_alerts_received_idx ON emvs_alerts (received_at DESC);
CREATE INDEX emvs_alerts_clock_pending_idx ON emvs_alerts (received_at) WHERE clock_required AND clock_started_at IS NULL AND clock_refused IS NULL;

-- Every status an alert went through, appended, never changed (the alert row keeps the current one).
CREATE TABLE emvs_alert_status_changes (
  id           bigserial PRIMARY KEY,
  alert_id     text NOT NULL REFERENCES emvs_alerts (alert_id),
  from_status  text NOT NULL,
  to_status    text NOT NULL,
  reason       text NOT NULL,
  changed_by   text NOT NULL,
  changed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX emvs_alert_status_changes_alert_idx ON emvs_alert_status_changes (alert_id, id);
CREATE FUNCTION emvs_alert_status_changes_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'emvs_alert_status_changes is append-only';
END $$;
CREATE TRIGGER emvs_alert_status_changes_append_only BEFORE UPDATE OR DELETE ON emvs_alert_status_changes
  FOR EACH ROW EXECUTE FUNCTION emvs_alert_status_changes_append_only();

-- DSCSA verifications (GS1 Lightweight Messaging Standard): `recorded` are requests and responses
-- sent in (POST /dscsa/verifications, keyed by their correlation UUID), `answered` the requests this
-- product answered itself from commissioning data (GET /dscsa/verify/...), one row per correlation UUID.
CREATE TABLE dscsa_verifications (
  id               bigserial PRIMARY KEY,
  channel          text NOT NULL CHECK (channel IN ('recorded', 'answered')),
  correlation_uuid uuid NOT NULL,
  gtin             char(14) NOT NULL,
  serial           text NOT NULL,
  lot              text NOT NULL,
  expiry           text,
  verified         boolean NOT NULL,
  failure_reason   text,
  additional_info  text,
  requester_gln    char(13),
  responder_gln    char(13),
  context          text,
  verified_at      timestamptz NOT NULL,
  recorded_at      timestamptz NOT NULL DEFAULT now(),
  recorded_by      text NOT NULL,
  request_hash     char(64),
  cross_check      jsonb,
  classification   text CHECK (classification IN ('not_own_product', 'mah_error', 'suspected_falsification')),
  cause            text,
  signal           text,
  deviation_id     text,
  UNIQUE (channel, correlation_uuid)
);
CREATE INDEX dscsa_verifications_batch_idx ON dscsa_verifications (gtin, lot);
CREATE INDEX dscsa_verifications_recorded_idx ON dscsa_verifications (recorded_at DESC);

-- Down Migration

DROP TABLE dscsa_verifications;
DROP TRIGGER emvs_alert_status_changes_append_only ON emvs_alert_status_changes;
DROP FUNCTION emvs_alert_status_changes_append_only();
DROP TABLE emvs_alert_status_changes;
DROP TABLE emvs_alerts;
DELETE FROM monitoring_signals WHERE kind IN ('emvs_alert', 'dscsa_verification');
DROP INDEX monitoring_signals_alert_undelivered_idx;
DROP INDEX monitoring_signals_alert_scope_idx;
ALTER TABLE monitoring_signals DROP CONSTRAINT monitoring_signals_point_check;
ALTER TABLE monitoring_signals DROP CONSTRAINT monitoring_signals_kind_check;
ALTER TABLE monitoring_signals ADD CONSTRAINT monitoring_signals_kind_check CHECK (kind IN ('threshold', 'rule'));
ALTER TABLE monitoring_signals DROP CONSTRAINT monitoring_signals_batch_signal_key;
ALTER TABLE monitoring_signals
  ALTER COLUMN batch_id SET NOT NULL,
  ALTER COLUMN line SET NOT NULL,
  ALTER COLUMN report_id SET NOT NULL,
  ADD PRIMARY KEY (batch_id, signal);
