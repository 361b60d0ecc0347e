-- Up Migration

-- Distribution holds placed by containment. One hold per deviation and batch, however often the
-- activity that places it is retried; a disposition at closure (release or reject) ends it.
CREATE TABLE holds (
  id            bigserial PRIMARY KEY,
  deviation_id  text NOT NULL,
  lot           text NOT NULL,
  reason        text NOT NULL,
  placed_at     timestamptz NOT NULL DEFAULT now(),
  placed_by     text NOT NULL,
  disposition   text CHECK (disposition IN ('release', 'reject')),
  disposed_at   timestamptz,
  disposed_by   text,
  disposition_reason text,
  UNIQUE (deviation_id, lot)
);
CREATE INDEX holds_lot_idx ON holds (lot) WHERE disposition IS NULL;

-- What had already shipped from a held batch when containment traced it (SSCCs and serials flagged).
CREATE TABLE traced_shipments (
  deviation_id  text NOT NULL,
  lot           text NOT NULL,
  identifier    text NOT NULL,      -- SSCC or SGTIN as an EPC URN
  kind          text NOT NULL CHECK (kind IN ('sscc', 'sgtin')),
  shipped_at    timestamptz,
  destination   text,
  event_id      text,
  flagged_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (deviation_id, identifier)
);

-- Notification outbox: written in the same step as the decision that causes it, delivered by a
-- separate dispatcher. dedupe_key makes a retried activity write one notification, not two.
CREATE TABLE notifications (
  id              bigserial PRIMARY KEY,
  dedupe_key      text NOT NULL UNIQUE,
  deviation_id    text,
  kind            text NOT NULL,
  recipients      text[] NOT NULL,   -- role names ('role:qa_lead') or user logins
  subject         text NOT NULL,
  body            jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at      timestamptz NOT NULL DEFAULT now(),
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  sent_at         timestamptz,
  last_error      text
);
CREATE INDEX notifications_pending_idx ON notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notifications_deviation_idx ON notifications (deviation_id);

-- Down Migration
DROP TABLE notifications;
DROP TABLE traced_shipments;
DROP TABLE holds;
