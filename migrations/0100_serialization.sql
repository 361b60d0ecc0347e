-- Up Migration

-- Serialization data plane: master data, captured EPCIS documents and their normalised
-- events, repository reports and reconciliation reports. Sized for million-unit batches: the tables
-- that grow with units (epcis_event_epcs, serialized_items) are narrow, and every index below serves
-- a reconciliation or trace query by batch.

-- Products by GTIN-14. Packing levels say how many children a package of each level must hold.
CREATE TABLE products (
  gtin                 char(14) PRIMARY KEY CHECK (gtin ~ '^[0-9]{14}$'),
  name                 text NOT NULL,
  units_per_bundle     integer CHECK (units_per_bundle > 0),
  units_per_case       integer NOT NULL CHECK (units_per_case > 0),
  cases_per_pallet     integer NOT NULL CHECK (cases_per_pallet > 0),
  aggregation_required boolean NOT NULL DEFAULT true,
  created_at           timestamptz NOT NULL DEFAULT now()
);

-- Batches are addressed by lot; two products may share a lot number, so (gtin, lot) is the key.
-- No foreign key to products: a commissioning event for an unknown lot creates its batch from the
-- event's ilmd, and the product's master data may follow later.
CREATE TABLE batches (
  id               bigserial PRIMARY KEY,
  gtin             char(14) NOT NULL CHECK (gtin ~ '^[0-9]{14}$'),
  lot              text NOT NULL CHECK (length(lot) BETWEEN 1 AND 20),
  expiry           date,
  line             text,
  planned_quantity integer CHECK (planned_quantity > 0),
  status           text NOT NULL DEFAULT 'planned' CHECK (status IN ('planned', 'in_production', 'released', 'rejected')),
  source           text NOT NULL DEFAULT 'master_data' CHECK (source IN ('master_data', 'epcis')),
  created_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (gtin, lot)
);
CREATE INDEX batches_lot_idx ON batches (lot);
CREATE INDEX batches_line_idx ON batches (line, created_at);

-- Every captured document, verbatim (the text as received) with its SHA-256: the evidence of what
-- a line system sent. A byte-identical document sent again maps to the same row.
CREATE TABLE epcis_documents (
  id           bigserial PRIMARY KEY,
  sha256       char(64) NOT NULL UNIQUE,
  body         text NOT NULL,
  bytes        bigint NOT NULL,
  event_count  integer NOT NULL,
  new_events   integer NOT NULL,
  captured_by  text NOT NULL,
  captured_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per event. event_id is the eventID the sender gave, or a content hash when it gave none,
-- so an event seen before is not applied twice. An error declaration (EPCIS 2.0 §7.4.1.4) carries
-- the eventID of the event it retracts: it is kept as a row of its own and marks that event retracted.
CREATE TABLE epcis_events (
  id                  bigserial PRIMARY KEY,
  event_id            text NOT NULL,
  is_declaration      boolean NOT NULL DEFAULT false,
  document_id         bigint NOT NULL REFERENCES epcis_documents (id),
  event_index         integer NOT NULL,
  type                text NOT NULL,
  action              text,
  event_time          timestamptz NOT NULL,
  event_tz_offset     text NOT NULL,
  biz_step            text,
  disposition         text,
  read_point          text,
  biz_location        text,
  parent_id           text,
  lot                 text,
  expiry              date,
  retracted           boolean NOT NULL DEFAULT false,
  -- Everything not normalised into columns or epcis_event_epcs: source/destination, business
  -- transactions, sensor data, certification, extension fields.
  extra               jsonb NOT NULL DEFAULT '{}'::jsonb,
  UNIQUE (event_id, is_declaration)
);
CREATE INDEX epcis_events_document_idx ON epcis_events (document_id);
CREATE INDEX epcis_events_retracted_idx ON epcis_events (id) WHERE retracted;
CREATE INDEX epcis_events_shipping_idx ON epcis_events (event_time) WHERE biz_step = 'shipping';

-- One row per identifier named by an event (epcList, childEPCs, input/output lists, quantity lists,
-- the parent). The event's type, action, step and time are copied in so reconciliation of a batch
-- reads this table alone. gtin/serial/sscc/lot are the parsed GS1 keys (NULL for other schemes).
CREATE TABLE epcis_event_epcs (
  event_pk     bigint NOT NULL REFERENCES epcis_events (id),
  role         text NOT NULL CHECK (role IN ('epc', 'parent', 'child', 'input', 'output')),
  kind         text NOT NULL CHECK (kind IN ('sgtin', 'sscc', 'lgtin', 'other')),
  epc          text NOT NULL,
  gtin         char(14),
  serial       text,
  sscc         char(18),
  -- For an SGTIN: the lot of its commissioning event's ilmd; for an LGTIN: its own lot.
  lot          text,
  quantity     numeric,
  uom          text,
  -- For a child: the parent's key (SSCC, or the parent URI when it is not an SSCC).
  parent       text,
  event_type   text NOT NULL,
  action       text,
  biz_step     text,
  disposition  text,
  event_time   timestamptz NOT NULL
);
CREATE INDEX epcis_event_epcs_event_idx ON epcis_event_epcs (event_pk);
-- Every event concerning one unit, in one index range.
CREATE INDEX epcis_event_epcs_sgtin_idx ON epcis_event_epcs (gtin, serial) WHERE kind = 'sgtin';
-- The commissioning records of a batch.
CREATE INDEX epcis_event_epcs_commissioning_idx ON epcis_event_epcs (gtin, lot)
  WHERE kind = 'sgtin' AND event_type = 'ObjectEvent' AND action = 'ADD';
-- The children of a package, and the events naming a package.
CREATE INDEX epcis_event_epcs_parent_idx ON epcis_event_epcs (parent) WHERE role = 'child';
CREATE INDEX epcis_event_epcs_sscc_idx ON epcis_event_epcs (sscc) WHERE kind = 'sscc';

-- Current state per unit, kept by capture: the batch that commissioned it first, its last status
-- and its current parent (latest by event time, so late-arriving events do not roll state back).
CREATE TABLE serialized_items (
  gtin          char(14) NOT NULL,
  serial        text NOT NULL,
  batch_id      bigint REFERENCES batches (id),
  status        text NOT NULL,
  status_at     timestamptz NOT NULL,
  parent_sscc   char(18),
  parent_at     timestamptz,
  PRIMARY KEY (gtin, serial)
);
CREATE INDEX serialized_items_batch_idx ON serialized_items (batch_id);

-- Current state per package (case, pallet): level from what it holds, its own current parent.
CREATE TABLE packages (
  sscc          char(18) PRIMARY KEY,
  level         text NOT NULL CHECK (level IN ('bundle', 'case', 'pallet', 'unknown')),
  parent_sscc   char(18),
  status        text NOT NULL,
  status_at     timestamptz NOT NULL
);
CREATE INDEX packages_parent_idx ON packages (parent_sscc);

-- What the repository (EU Hub / EMVS, or the DSCSA trading partner) acknowledged for a batch.
CREATE TABLE repository_reports (
  id           bigserial PRIMARY KEY,
  batch_id     bigint NOT NULL REFERENCES batches (id),
  target       text NOT NULL CHECK (target IN ('EMVS', 'DSCSA')),
  reported_at  timestamptz NOT NULL,
  serial_count integer NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX repository_reports_batch_idx ON repository_reports (batch_id);

CREATE TABLE repository_report_serials (
  report_id  bigint NOT NULL REFERENCES repository_reports (id),
  batch_id   bigint NOT NULL,
  serial     text NOT NULL,
  PRIMARY KEY (batch_id, serial, report_id)
);

-- Reconciliation reports: the balance and counts in `summary`, every discrepancy as a row. The
-- content hash covers summary and discrepancies (not the ID or time), so an unchanged batch
-- reconciles to the same hash.
CREATE TABLE reconciliation_reports (
  id            text PRIMARY KEY,
  batch_id      bigint REFERENCES batches (id),
  lot           text NOT NULL,
  gtin          char(14),
  content_hash  char(64) NOT NULL,
  summary       jsonb NOT NULL,
  deviation_id  text,
  generated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reconciliation_reports_lot_idx ON reconciliation_reports (lot, gtin, generated_at DESC);

CREATE TABLE reconciliation_discrepancies (
  report_id    text NOT NULL REFERENCES reconciliation_reports (id),
  seq          integer NOT NULL,
  category     text NOT NULL,
  kind         text NOT NULL,
  sgtin        text,
  gtin         char(14),
  serial       text,
  ssccs        text[],
  detail       text NOT NULL,
  PRIMARY KEY (report_id, seq)
);
CREATE SEQUENCE reconciliation_report_seq;

-- Down Migration
DROP SEQUENCE reconciliation_report_seq;
DROP TABLE reconciliation_discrepancies;
DROP TABLE reconciliation_reports;
DROP TABLE repository_report_serials;
DROP TABLE repository_reports;
DROP TABLE packages;
DROP TABLE serialized_items;
DROP TABLE epcis_event_epcs;
DROP TABLE epcis_events;
DROP TABLE epcis_documents;
DROP TABLE batches;
DROP TABLE products;
