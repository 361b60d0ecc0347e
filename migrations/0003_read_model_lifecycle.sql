-- Up Migration
ALTER TABLE deviations
  ADD COLUMN lines   text[] NOT NULL DEFAULT '{}',
  ADD COLUMN gtins   text[] NOT NULL DEFAULT '{}',
  ADD COLUMN overdue boolean NOT NULL DEFAULT false;
CREATE INDEX deviations_lines_idx ON deviations USING gin (lines);
CREATE INDEX deviations_gtins_idx ON deviations USING gin (gtins);
CREATE INDEX deviations_symptom_idx ON deviations (symptom, detected_at);

-- Down Migration
ALTER TABLE deviations DROP COLUMN lines, DROP COLUMN gtins, DROP COLUMN overdue;
