-- Up Migration

-- Indexes for the EPCIS query interface and the trace (GET /epcis/events, /epcis/epcs/{epc}/events,
-- /trace/{epc}): the events naming one unit, case or pallet, found in milliseconds on a batch of a
-- million units.
--
-- Identifiers are stored as lists (migration 0400), so no B-tree reaches one serial. What names a
-- unit is found three ways (db/identifier-events.ts):
--   * its commissioning and its packing, the two lists nearly every unit is in, through the summary
--     capture keeps beside it in serialized_items (the commissioning events, the packages it was
--     put in), which the existing event and parent indexes then reach. Indexing the serials of those
--     lists would add two million GIN entries per million-unit batch to capture's transaction, the
--     cost migration 0400 took out;
--   * every other list naming units (shipping or receiving loose units, unpacking, sampling,
--     decommissioning, a unit as a parent) through the partial GIN index below, which those bulk
--     lists never enter (the predicate is their exact complement: keep it in step with
--     LIST_NAMES_UNITS_SINGLY in db/identifier-events.ts and IS_COMMISSIONING / IS_PACKING in
--     db/unit-facts.ts);
--   * units whose summary cannot be trusted (commissioned or packed more than twice, or marked for
--     recheck), by scanning their product's commissioning or packing lists: rare, and slower.
-- Cases and pallets are few beside units (one SSCC per 20 to 1,000 units): every list of SSCCs is
-- indexed. Identifiers of other schemes are kept whole in `epcs`, indexed for the rare list of them.
--
-- A GIN index first appends new entries to a pending list, which every lookup reads whole until it
-- is merged into the index (by VACUUM, or by the insert that takes it past gin_pending_list_limit).
-- With the default limit, 4 MB, the SSCCs of a whole million-unit batch sat in the list after
-- capture: a case's events took 70 ms to find instead of 0.1 ms. A 256 kB limit merges as capture
-- goes (half a second per million units in all) and keeps what a lookup reads small.
CREATE INDEX epcis_event_identifiers_sscc_keys_idx ON epcis_event_identifiers USING gin (keys)
  WITH (gin_pending_list_limit = 256) WHERE kind = 'sscc';
CREATE INDEX epcis_event_identifiers_unit_keys_idx ON epcis_event_identifiers USING gin (keys)
  WITH (gin_pending_list_limit = 256)
  WHERE kind = 'sgtin'
    AND NOT COALESCE(role = 'epc' AND event_type = 'ObjectEvent' AND action = 'ADD', false)
    AND NOT COALESCE(role = 'child' AND event_type = 'AggregationEvent' AND parent IS NOT NULL AND action = 'ADD', false);
CREATE INDEX epcis_event_identifiers_other_epcs_idx ON epcis_event_identifiers USING gin (epcs)
  WITH (gin_pending_list_limit = 256) WHERE kind = 'other';

-- Investigations by time window (GE_eventTime / LT_eventTime), by lot (EQ_ILMD_cbvmda:lotNumber:
-- only events carrying ilmd have one) and by record time (GE_recordTime: the capture's time).
CREATE INDEX epcis_events_event_time_idx ON epcis_events (event_time);
CREATE INDEX epcis_events_lot_idx ON epcis_events (lot) WHERE lot IS NOT NULL;
CREATE INDEX epcis_documents_captured_at_idx ON epcis_documents (captured_at);

-- Down Migration
DROP INDEX epcis_documents_captured_at_idx;
DROP INDEX epcis_events_lot_idx;
DROP INDEX epcis_events_event_time_idx;
DROP INDEX epcis_event_identifiers_other_epcs_idx;
DROP INDEX epcis_event_identifiers_unit_keys_idx;
DROP INDEX epcis_event_identifiers_sscc_keys_idx;
