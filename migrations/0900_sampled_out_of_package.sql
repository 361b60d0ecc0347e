-- Up Migration

-- A unit taken out of its package for sampling, or seen in it by a sampling event (an
-- AggregationEvent other than ADD, with bizStep sampling, naming it as a child), is sampled:
-- reconciliation's definition is "an event with bizStep sampling" (reconciliation/reconcile.ts).
-- Capture used to record the fact only for events naming the unit itself, so such a unit counted
-- as unaccounted. Capture records it now (db/unit-facts.ts); the units captured before
-- are given it here, from their live events. (A unit named by a retracted event is worked out from
-- the live events by reconciliation, whatever its row says.)
UPDATE serialized_items si SET facts = si.facts | 8
  FROM (SELECT DISTINCT l.gtin, k.serial
          FROM epcis_event_identifiers l
          JOIN epcis_events e ON e.id = l.event_pk AND NOT e.retracted
          CROSS JOIN LATERAL unnest(l.keys) AS k(serial)
         WHERE l.kind = 'sgtin' AND l.role = 'child' AND l.event_type = 'AggregationEvent' AND l.parent IS NOT NULL
           AND l.action IS DISTINCT FROM 'ADD' AND l.biz_step = 'sampling') s
 WHERE si.gtin = s.gtin AND si.serial = s.serial AND si.facts & 8 = 0;

-- Down Migration

-- The bit goes from the units that have it from such events only (not also from a sampling event
-- naming the unit itself).
UPDATE serialized_items si SET facts = si.facts & ~8
  FROM (SELECT l.gtin, k.serial
          FROM epcis_event_identifiers l CROSS JOIN LATERAL unnest(l.keys) AS k(serial)
         WHERE l.kind = 'sgtin' AND l.role = 'child' AND l.event_type = 'AggregationEvent' AND l.parent IS NOT NULL
           AND l.action IS DISTINCT FROM 'ADD' AND l.biz_step = 'sampling'
        EXCEPT
        SELECT l.gtin, k.serial
          FROM epcis_event_identifiers l CROSS JOIN LATERAL unnest(l.keys) AS k(serial)
         WHERE l.kind = 'sgtin' AND l.role = 'epc' AND l.action IS DISTINCT FROM 'ADD' AND l.biz_step = 'sampling') s
 WHERE si.gtin = s.gtin AND si.serial = s.serial;
