-- Up Migration

-- The identifier lists that name a batch as a class (an LGTIN: its GTIN and lot), found by batch.
-- A batch's captured documents (GET /batches/{lot}/documents) are those whose events name it: its
-- commissioning lists, which epcis_event_identifiers_commissioning_idx finds, and these, which
-- nothing found but a scan of every list. Class-level identifiers are rare beside the units, so the
-- index costs capture next to nothing.
CREATE INDEX epcis_event_identifiers_class_idx ON epcis_event_identifiers (gtin, lot) WHERE kind = 'lgtin';

-- Down Migration
DROP INDEX epcis_event_identifiers_class_idx;
