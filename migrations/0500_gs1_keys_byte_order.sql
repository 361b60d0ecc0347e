-- Up Migration

-- GS1 keys compared as bytes: the columns of the serialization data plane holding a GTIN, a serial
-- (AI 21), a lot (AI 10) or an SSCC, which capture and reconciliation compare in bulk, are declared
-- COLLATE "C".
--
-- Why: these values are GS1 CSET 82 character strings (ASCII), whose only meaningful order is their
-- bytes'. Under the database's default collation PostgreSQL compares each pair through the C
-- library's strcoll, after copying both values, and cannot use abbreviated keys when sorting. Every
-- primary-key probe of a million-unit table makes about twenty such comparisons per unit: byte
-- comparisons make the units' insert about a tenth faster. Equality is unchanged (both collations
-- are deterministic). Order becomes byte order: the same as before for ASCII under a C.UTF-8
-- database, but under a locale such as en_US.UTF-8 lots, serials and SSCCs now list in byte order
-- (uppercase before lowercase, punctuation not skipped). A reconciliation whose findings name
-- several lots may therefore get a new content hash once, after this migration; from then on the
-- hash no longer depends on the database's locale.
--
-- Changing a column's type drops its statistics: every table changed is analysed again below, so
-- the planner never meets a million-row table without them. The changed tables are rewritten and
-- locked meanwhile: run this migration in a maintenance window.
--
-- EPCIS event IDs (URIs, equal when their characters are) are compared as bytes for the same reason:
-- each captured event probes the unique index on them.
--
-- PostgreSQL resolves a comparison between a "C" column and one of the database's default collation
-- (a hold's lot, a report's serial) to "C". A comparison between two different named collations
-- would be refused: no column gets any named collation other than "C".

ALTER TABLE products ALTER COLUMN gtin TYPE char(14) COLLATE "C";

ALTER TABLE batches
  ALTER COLUMN gtin TYPE char(14) COLLATE "C",
  ALTER COLUMN lot TYPE text COLLATE "C";

ALTER TABLE serialized_items
  ALTER COLUMN gtin TYPE char(14) COLLATE "C",
  ALTER COLUMN serial TYPE text COLLATE "C",
  ALTER COLUMN parent_sscc TYPE char(18) COLLATE "C",
  ALTER COLUMN first_parent TYPE text COLLATE "C",
  ALTER COLUMN last_parent TYPE text COLLATE "C";

ALTER TABLE packages
  ALTER COLUMN sscc TYPE char(18) COLLATE "C",
  ALTER COLUMN parent_sscc TYPE char(18) COLLATE "C";

ALTER TABLE repository_report_serials ALTER COLUMN serial TYPE text COLLATE "C";

ALTER TABLE epcis_event_identifiers
  ALTER COLUMN gtin TYPE char(14) COLLATE "C",
  ALTER COLUMN lot TYPE text COLLATE "C",
  ALTER COLUMN parent TYPE text COLLATE "C",
  ALTER COLUMN keys TYPE text[] COLLATE "C";

ALTER TABLE epcis_events ALTER COLUMN event_id TYPE text COLLATE "C";

ANALYZE products, batches, serialized_items, packages, repository_report_serials, epcis_event_identifiers, epcis_events;

-- Down Migration
ALTER TABLE epcis_events ALTER COLUMN event_id TYPE text COLLATE "default";
ALTER TABLE epcis_event_identifiers
  ALTER COLUMN gtin TYPE char(14) COLLATE "default",
  ALTER COLUMN lot TYPE text COLLATE "default",
  ALTER COLUMN parent TYPE text COLLATE "default",
  ALTER COLUMN keys TYPE text[] COLLATE "default";
ALTER TABLE repository_report_serials ALTER COLUMN serial TYPE text COLLATE "default";
ALTER TABLE packages
  ALTER COLUMN sscc TYPE char(18) COLLATE "default",
  ALTER COLUMN parent_sscc TYPE char(18) COLLATE "default";
ALTER TABLE serialized_items
  ALTER COLUMN gtin TYPE char(14) COLLATE "default",
  ALTER COLUMN serial TYPE text COLLATE "default",
  ALTER COLUMN parent_sscc TYPE char(18) COLLATE "default",
  ALTER COLUMN first_parent TYPE text COLLATE "default",
  ALTER COLUMN last_parent TYPE text COLLATE "default";
ALTER TABLE batches
  ALTER COLUMN gtin TYPE char(14) COLLATE "default",
  ALTER COLUMN lot TYPE text COLLATE "default";
ALTER TABLE products ALTER COLUMN gtin TYPE char(14) COLLATE "default";
ANALYZE products, batches, serialized_items, packages, repository_report_serials, epcis_event_identifiers, epcis_events;
