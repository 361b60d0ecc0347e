-- Up Migration

-- A unit's primary key leads with its serial: (serial, gtin) instead of (gtin, serial).
--
-- Why: most units of a batch share one GTIN, so with the GTIN first every comparison in a descent
-- of the key compared two equal GTINs (blank-padded char(14)) before reaching the serial that tells
-- units apart. Capture probes this key twice for each unit it writes (the upsert's check, then the
-- insert), a million times for a million-unit batch. Serial first, the first column decides nearly
-- every comparison: in a test of twenty 50,000-unit upserts into the table, 11 s instead of 14 s.
-- Lookups name both columns (a unit is its GTIN and serial), so they use the key either way;
-- nothing reads units in key order. ON CONFLICT (gtin, serial) still finds the key: it names the
-- same columns.
--
-- The key is rebuilt, with the table locked meanwhile: run this in a maintenance window.
ALTER TABLE serialized_items DROP CONSTRAINT serialized_items_pkey, ADD CONSTRAINT serialized_items_pkey PRIMARY KEY (serial, gtin);

-- Down Migration
ALTER TABLE serialized_items DROP CONSTRAINT serialized_items_pkey, ADD CONSTRAINT serialized_items_pkey PRIMARY KEY (gtin, serial);
