-- Up Migration

-- Events captured without an eventID are now stored under the CBV 2.0 event hash
-- (ni:///sha-256;…?ver=CBV2.0, epcis/event-hash.ts), which the sender can compute too, instead of the
-- SHA-256 of their canonical JSON (ni:///sha-256;… without ?ver=) given until now.
--
-- Why a table of former IDs, filled here, rather than recomputing the stored events' IDs: the CBV hash
-- is worked out from the event as sent (its document, JSON or XML, parsed again), which SQL cannot
-- do, and the rows capture keeps are not the event as sent. So each event stored under a former ID
-- keeps it, and this table remembers it as that event's former ID. Capture works out the former ID
-- of every event naming itself by content while this table has rows: an event sent again (or a
-- declaration of it) is recognised by it, not stored twice, and the stored event then takes its CBV
-- hash as event_id (its former ID stays here). GET /epcis/events/{eventID} and EQ_eventID find an
-- event by its former ID as well. A table, not a column, since few rows have a former ID and new
-- ones never do; it stays empty on a database that never stored one, and capture then skips the work.
--
-- (A sender's own eventID may have the same shape; keeping it here too is harmless: it names the
-- same event.)
CREATE TABLE epcis_event_legacy_ids (
  legacy_id  text COLLATE "C" PRIMARY KEY,
  event_pk   bigint NOT NULL REFERENCES epcis_events (id) ON DELETE CASCADE
);
CREATE INDEX epcis_event_legacy_ids_event_idx ON epcis_event_legacy_ids (event_pk);

INSERT INTO epcis_event_legacy_ids (legacy_id, event_pk)
SELECT event_id, id FROM epcis_events
 WHERE NOT is_declaration AND event_id ~ '^ni:///sha-256;[0-9a-f]{64}$';

-- Down Migration

-- Events renamed to their CBV hash since get their former ID back, and so do the error declarations
-- naming them by that hash, so the code before this migration finds both. Events captured without
-- an eventID after this migration keep their CBV hash: that code would not recognise them if sent
-- again.
UPDATE epcis_events d SET event_id = l.legacy_id
  FROM epcis_event_legacy_ids l JOIN epcis_events e ON e.id = l.event_pk
 WHERE d.is_declaration AND d.event_id = e.event_id AND e.event_id <> l.legacy_id
   AND NOT EXISTS (SELECT 1 FROM epcis_events x WHERE x.is_declaration AND x.event_id = l.legacy_id);
UPDATE epcis_events e SET event_id = l.legacy_id
  FROM epcis_event_legacy_ids l
 WHERE e.id = l.event_pk AND e.event_id <> l.legacy_id;
DROP TABLE epcis_event_legacy_ids;
