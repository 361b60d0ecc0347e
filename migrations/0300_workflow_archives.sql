-- Up Migration

-- Closed workflow histories, kept after Temporal's namespace retention drops them (DSCSA: six
-- years; EU FMD: a year after expiry or five after release). One row per run: a deviation that
-- continued as new has several, ordered by started_at. The history is stored as the exact text
-- exported (proto3 JSON, as `temporal workflow show --output json` prints it) so the SHA-256 can
-- be recomputed from the bytes; the CHECK makes the database itself refuse a row whose hash does
-- not match its content.
CREATE TABLE workflow_archives (
  id              bigserial PRIMARY KEY,
  deviation_id    text NOT NULL CHECK (length(deviation_id) BETWEEN 1 AND 100),
  workflow_id     text NOT NULL CHECK (length(workflow_id) BETWEEN 1 AND 200),
  run_id          text NOT NULL CHECK (length(run_id) BETWEEN 1 AND 100),
  workflow_type   text NOT NULL,
  status          text NOT NULL,            -- how the run closed: completed, failed, terminated, continued_as_new, ...
  started_at      timestamptz NOT NULL,
  closed_at       timestamptz NOT NULL,
  event_count     integer NOT NULL CHECK (event_count > 0),
  history         text NOT NULL CHECK (history::jsonb ? 'events'),
  sha256          text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$' AND sha256 = encode(sha256(convert_to(history, 'UTF8')), 'hex')),
  archived_at     timestamptz NOT NULL DEFAULT now(),
  -- An archiver retried, or two archivers racing, store a run once.
  UNIQUE (workflow_id, run_id)
);
CREATE INDEX workflow_archives_deviation_idx ON workflow_archives (deviation_id, started_at);

CREATE FUNCTION refuse_change_to_archive() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is immutable: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER workflow_archives_immutable
  BEFORE UPDATE OR DELETE ON workflow_archives
  FOR EACH ROW EXECUTE FUNCTION refuse_change_to_archive();
CREATE TRIGGER workflow_archives_no_truncate
  BEFORE TRUNCATE ON workflow_archives
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change_to_archive();

-- Down Migration
DROP TABLE workflow_archives;
DROP FUNCTION refuse_change_to_archive();
