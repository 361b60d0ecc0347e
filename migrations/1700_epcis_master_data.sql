-- Up Migration

-- Master data captured EPCIS documents carry in their header (vocabulary elements: products as
-- EPCClass, locations as BusinessLocation, ReadPoint or the DSCSA guideline's Location), recorded
-- by epcis/master-data.ts in the capture's transaction. One row per version of an element: the same
-- attributes sent again are recorded once; changed ones are recorded beside the earlier versions
-- with the document that brought them, never over them.
CREATE TABLE epcis_master_data (
  id               bigserial PRIMARY KEY,
  vocabulary_type  text NOT NULL,
  element_id       text NOT NULL,
  -- The product a class names (an SGTIN pattern, an LGTIN, a Digital Link /01/…), for EPCClass elements.
  gtin             char(14) CHECK (gtin ~ '^[0-9]{14}$'),
  attributes       jsonb NOT NULL,
  children         jsonb NOT NULL DEFAULT '[]'::jsonb,
  -- SHA-256 of the version's canonical JSON (RFC 8785) of attributes and children.
  sha256           char(64) NOT NULL,
  document_id      bigint NOT NULL REFERENCES epcis_documents (id),
  recorded_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (vocabulary_type, element_id, sha256)
);
CREATE INDEX epcis_master_data_element_idx ON epcis_master_data (element_id, recorded_at);
CREATE INDEX epcis_master_data_gtin_idx ON epcis_master_data (gtin) WHERE gtin IS NOT NULL;
CREATE INDEX epcis_master_data_document_idx ON epcis_master_data (document_id);

-- What a document said is evidence like the document itself.
CREATE TRIGGER epcis_master_data_never_deleted BEFORE DELETE ON epcis_master_data
  FOR EACH ROW EXECUTE FUNCTION refuse_deletion_of_permanent_record();
CREATE TRIGGER epcis_master_data_never_truncated BEFORE TRUNCATE ON epcis_master_data
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_deletion_of_permanent_record();

-- Down Migration

DROP TABLE epcis_master_data;
