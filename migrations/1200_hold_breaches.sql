-- Up Migration

-- Containment breaches: a shipping or receiving event captured for a unit, case or pallet of a batch
-- under an open hold. One row per hold and event, written in the capture's own transaction, so a
-- breach exists exactly when its event does, and capturing the same document or event again adds
-- none. The row is also an outbox for the deviation's workflow: capture cannot signal a workflow
-- inside its transaction, so the signal is sent after the commit (by the API at once, by the
-- worker's delivery loop for whatever that missed) and recorded here; at least once, and the
-- workflow recognises a breach it was told of before by its ID.
CREATE TABLE hold_breaches (
  id                 bigserial PRIMARY KEY,
  hold_id            bigint NOT NULL REFERENCES holds (id),
  deviation_id       text NOT NULL,
  lot                text NOT NULL,
  event_pk           bigint NOT NULL REFERENCES epcis_events (id),
  event_id           text NOT NULL,      -- the eventID the sender gave (or its content hash)
  document_id        bigint NOT NULL REFERENCES epcis_documents (id),
  biz_step           text NOT NULL CHECK (biz_step IN ('shipping', 'receiving')),
  event_time         timestamptz NOT NULL,
  -- The event's identifiers that hold units of the lot, as captured (SGTIN, case or pallet SSCC,
  -- LGTIN): the first few in order, and how many there are.
  identifiers        text[] NOT NULL,
  identifier_count   integer NOT NULL CHECK (identifier_count > 0),
  detected_at        timestamptz NOT NULL DEFAULT now(),
  signalled_at       timestamptz,
  -- Why the workflow will never be told: it was no longer running (closed or terminated).
  undeliverable      text,
  -- The latest failure to signal, kept for whoever looks into a breach that waits.
  last_signal_error  text,
  UNIQUE (hold_id, event_pk)
);
CREATE INDEX hold_breaches_pending_idx ON hold_breaches (id) WHERE signalled_at IS NULL AND undeliverable IS NULL;
CREATE INDEX hold_breaches_deviation_idx ON hold_breaches (deviation_id, id);

-- Down Migration

DROP TABLE hold_breaches;
