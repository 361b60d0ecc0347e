-- Up Migration

-- Identifiers stored as lists, one row per event and group, instead of one row per identifier.
--
-- Why: a million-unit batch named ~2 identifiers per unit (commissioning, packing), so capture wrote
-- and indexed two million rows per batch, and PostgreSQL's own COPY of those rows was slower than
-- the capture target. A list row per (event, role, kind, product, lot, parent) holds the same facts
-- in ~150,000 rows per million units; reconciliation unnests the lists it reads, which costs less
-- than reading the rows did.
--
-- Each element i of a list is one identifier named by the event:
--   keys[i]   the parsed GS1 key: the serial (AI 21) of an SGTIN, the 18 digits of an SSCC, NULL
--             otherwise (an LGTIN's key is the row's gtin and lot);
--   the identifier exactly as captured is epc_prefix || keys[i] when epc_prefix is set (a URN or
--             Digital Link ending in its key, the usual case), else epcs[i];
--   quantities[i], uoms[i]  for quantity-list elements (NULL for instance identifiers).
CREATE TABLE epcis_event_identifiers (
  event_pk     bigint NOT NULL,  -- an epcis_events id, without a foreign key: see "permanent records" below
  role         text NOT NULL CHECK (role IN ('epc', 'parent', 'child', 'input', 'output')),
  kind         text NOT NULL CHECK (kind IN ('sgtin', 'sscc', 'lgtin', 'other')),
  gtin         char(14),
  -- For SGTINs: the lot of their commissioning event's ilmd; for an LGTIN: its own lot.
  lot          text,
  -- For children: the parent's key (SSCC, or the parent URI when it is not an SSCC).
  parent       text,
  epc_prefix   text,
  keys         text[],
  epcs         text[],
  quantities   numeric[],
  uoms         text[],
  -- The event's type, action, step and time, so reconciliation of a batch reads this table alone.
  event_type   text NOT NULL,
  action       text,
  biz_step     text,
  disposition  text,
  event_time   timestamptz NOT NULL,
  CHECK ((epc_prefix IS NOT NULL AND keys IS NOT NULL) OR epcs IS NOT NULL)
);
CREATE INDEX epcis_event_identifiers_event_idx ON epcis_event_identifiers (event_pk);
-- The commissioning lists of a batch.
CREATE INDEX epcis_event_identifiers_commissioning_idx ON epcis_event_identifiers (gtin, lot)
  WHERE kind = 'sgtin' AND event_type = 'ObjectEvent' AND action = 'ADD';
-- Every list naming units of one product.
CREATE INDEX epcis_event_identifiers_gtin_idx ON epcis_event_identifiers (gtin) WHERE kind = 'sgtin';
-- The children of a package.
CREATE INDEX epcis_event_identifiers_parent_idx ON epcis_event_identifiers (parent) WHERE role = 'child';

-- Existing rows, one list per group (identifiers kept as captured, in epcs).
INSERT INTO epcis_event_identifiers (event_pk, role, kind, gtin, lot, parent, epc_prefix, keys, epcs, quantities, uoms,
                                     event_type, action, biz_step, disposition, event_time)
SELECT event_pk, role, kind, gtin, lot, parent, NULL,
       CASE WHEN kind IN ('sgtin', 'sscc') THEN array_agg(COALESCE(serial, sscc) ORDER BY ctid) END,
       array_agg(epc ORDER BY ctid),
       CASE WHEN count(quantity) > 0 THEN array_agg(quantity ORDER BY ctid) END,
       CASE WHEN count(uom) > 0 THEN array_agg(uom ORDER BY ctid) END,
       event_type, action, biz_step, disposition, event_time
  FROM epcis_event_epcs
 GROUP BY event_pk, role, kind, gtin, lot, parent, event_type, action, biz_step, disposition, event_time;

DROP TABLE epcis_event_epcs;

-- What reconciliation needs to know of each unit, kept by capture beside its current state, so a
-- batch is reconciled from one row per unit instead of from every identifier naming it. `facts` has
-- one bit per fact (db/unit-facts.ts names them); a unit whose summary cannot be trusted
-- (commissioned more than once, or named by an event retracted later) is worked out from the
-- events instead. Rows from before this migration carry no summary: they are all marked so.
ALTER TABLE serialized_items
  ADD COLUMN facts integer NOT NULL DEFAULT 0,
  ADD COLUMN commissionings integer NOT NULL DEFAULT 0,
  ADD COLUMN commissioned_by bigint,
  ADD COLUMN commissioned_last bigint,
  ADD COLUMN packings integer NOT NULL DEFAULT 0,
  ADD COLUMN first_parent text,
  ADD COLUMN last_parent text;
UPDATE serialized_items SET facts = 512;
CREATE INDEX serialized_items_recheck_idx ON serialized_items (gtin) WHERE commissionings > 1 OR facts & 512 <> 0;

-- References that capture writes in bulk are right by construction, and kept right by refusing to
-- delete what they name: a unit's batch_id comes from a join with batches in the same statement; an
-- event's document_id is the document inserted just before it; a list's event_pk comes from the
-- RETURNING of the events' insert in the same statement. Batches, documents and events are permanent
-- records (refused below). The foreign keys re-checked each of these once per row: a fifth of
-- capture's time in serialized_items, two fifths in the events' insert.
ALTER TABLE serialized_items DROP CONSTRAINT serialized_items_batch_id_fkey;
ALTER TABLE epcis_events DROP CONSTRAINT epcis_events_document_id_fkey;
CREATE FUNCTION refuse_deletion_of_permanent_record() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% rows are permanent records: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER batches_never_deleted BEFORE DELETE ON batches
  FOR EACH ROW EXECUTE FUNCTION refuse_deletion_of_permanent_record();
CREATE TRIGGER batches_never_truncated BEFORE TRUNCATE ON batches
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_deletion_of_permanent_record();
CREATE TRIGGER epcis_documents_never_deleted BEFORE DELETE ON epcis_documents
  FOR EACH ROW EXECUTE FUNCTION refuse_deletion_of_permanent_record();
CREATE TRIGGER epcis_documents_never_truncated BEFORE TRUNCATE ON epcis_documents
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_deletion_of_permanent_record();
CREATE TRIGGER epcis_events_never_deleted BEFORE DELETE ON epcis_events
  FOR EACH ROW EXECUTE FUNCTION refuse_deletion_of_permanent_record();
CREATE TRIGGER epcis_events_never_truncated BEFORE TRUNCATE ON epcis_events
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_deletion_of_permanent_record();

-- The verbatim documents are tens of megabytes each: lz4 compresses them several times faster than
-- the default pglz, inside the capture transaction.
ALTER TABLE epcis_documents ALTER COLUMN body SET COMPRESSION lz4;

-- Down Migration
DROP TRIGGER epcis_events_never_truncated ON epcis_events;
DROP TRIGGER epcis_events_never_deleted ON epcis_events;
DROP TRIGGER epcis_documents_never_truncated ON epcis_documents;
DROP TRIGGER epcis_documents_never_deleted ON epcis_documents;
DROP TRIGGER batches_never_truncated ON batches;
DROP TRIGGER batches_never_deleted ON batches;
DROP FUNCTION refuse_deletion_of_permanent_record();
ALTER TABLE epcis_events ADD CONSTRAINT epcis_events_document_id_fkey FOREIGN KEY (document_id) REFERENCES epcis_documents (id);
ALTER TABLE serialized_items ADD CONSTRAINT serialized_items_batch_id_fkey FOREIGN KEY (batch_id) REFERENCES batches (id);
ALTER TABLE epcis_documents ALTER COLUMN body SET COMPRESSION pglz;
DROP INDEX serialized_items_recheck_idx;
ALTER TABLE serialized_items DROP COLUMN facts, DROP COLUMN commissionings, DROP COLUMN commissioned_by,
  DROP COLUMN commissioned_last, DROP COLUMN packings, DROP COLUMN first_parent, DROP COLUMN last_parent;

CREATE TABLE epcis_event_epcs (
  event_pk     bigint NOT NULL REFERENCES epcis_events (id),
  role         text NOT NULL CHECK (role IN ('epc', 'parent', 'child', 'input', 'output')),
  kind         text NOT NULL CHECK (kind IN ('sgtin', 'sscc', 'lgtin', 'other')),
  epc          text NOT NULL,
  gtin         char(14),
  serial       text,
  sscc         char(18),
  lot          text,
  quantity     numeric,
  uom          text,
  parent       text,
  event_type   text NOT NULL,
  action       text,
  biz_step     text,
  disposition  text,
  event_time   timestamptz NOT NULL
);
INSERT INTO epcis_event_epcs (event_pk, role, kind, epc, gtin, serial, sscc, lot, quantity, uom, parent, event_type, action, biz_step, disposition, event_time)
SELECT l.event_pk, l.role, l.kind, COALESCE(l.epc_prefix || e.key, e.epc), l.gtin,
       CASE WHEN l.kind = 'sgtin' THEN e.key END, CASE WHEN l.kind = 'sscc' THEN e.key END,
       l.lot, e.quantity, e.uom, l.parent, l.event_type, l.action, l.biz_step, l.disposition, l.event_time
  FROM epcis_event_identifiers l
 CROSS JOIN LATERAL unnest(l.keys, l.epcs, l.quantities, l.uoms) AS e(key, epc, quantity, uom);
CREATE INDEX epcis_event_epcs_event_idx ON epcis_event_epcs (event_pk);
CREATE INDEX epcis_event_epcs_sgtin_idx ON epcis_event_epcs (gtin, serial) WHERE kind = 'sgtin';
CREATE INDEX epcis_event_epcs_commissioning_idx ON epcis_event_epcs (gtin, lot)
  WHERE kind = 'sgtin' AND event_type = 'ObjectEvent' AND action = 'ADD';
CREATE INDEX epcis_event_epcs_parent_idx ON epcis_event_epcs (parent) WHERE role = 'child';
CREATE INDEX epcis_event_epcs_sscc_idx ON epcis_event_epcs (sscc) WHERE kind = 'sscc';
DROP TABLE epcis_event_identifiers;
