-- Up Migration

-- How each deviation was detected, for the KPI of automated against manual detection: `manual` (a
-- person opened it), or the monitor that did (`reconciliation`, `spc`). A row written before the read
-- model carried it says `manual` until its deviation's next change writes the source. No CHECK on
-- the values: a source added later must not make the read model's write fail, and retry, for ever.
ALTER TABLE deviations ADD COLUMN source text NOT NULL DEFAULT 'manual';

-- The discrepancy trend reads each batch's reports, newest first.
CREATE INDEX reconciliation_reports_batch_idx ON reconciliation_reports (batch_id, generated_at DESC) WHERE batch_id IS NOT NULL;

-- Down Migration
DROP INDEX reconciliation_reports_batch_idx;
ALTER TABLE deviations DROP COLUMN source;
