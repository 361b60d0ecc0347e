-- Up Migration

-- Where the every-minute archive sweep stands (audit/sweep-window.ts): every DeviationWorkflow run
-- that closed before archived_before is in workflow_archives, so a sweep lists only the runs closed
-- since then, instead of every closed deviation Temporal keeps (years of them, with the retention the
-- dev server is given). full_sweep_at is when a sweep last listed every closed run, which one does
-- once a day. One row; no row before the first sweep.
CREATE TABLE archive_sweep_state (
  only_row         boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  archived_before  timestamptz NOT NULL,
  full_sweep_at    timestamptz,
  updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE archive_sweep_state;
