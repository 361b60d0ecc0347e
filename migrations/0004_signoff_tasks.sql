-- Up Migration

-- Read model of sign-off tasks, for inboxes: the workflow holds the tasks, an activity mirrors them here.
CREATE TABLE signoff_tasks (
  id                  text PRIMARY KEY,           -- <deviation>.T<n>
  deviation_id        text NOT NULL,
  gate                text NOT NULL,
  title               text NOT NULL,
  roles               text[] NOT NULL,
  meaning             text NOT NULL,
  signatures_required integer NOT NULL,
  signatures          integer NOT NULL,
  status              text NOT NULL,
  overdue             boolean NOT NULL,
  created_at          timestamptz NOT NULL,
  due_at              timestamptz NOT NULL,
  version             integer NOT NULL
);
CREATE INDEX signoff_tasks_open_idx ON signoff_tasks USING gin (roles) WHERE status = 'open';
CREATE INDEX signoff_tasks_deviation_idx ON signoff_tasks (deviation_id);

-- Down Migration
DROP TABLE signoff_tasks;
