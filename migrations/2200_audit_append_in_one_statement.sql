-- Up Migration

-- Appends to the audit trail in one statement. Every audited write of every process takes turns on
-- the chain's advisory lock, which is held until its transaction ends; taking the lock, reading the
-- tail and inserting as three statements kept it across three round trips to a client that, under
-- load, waits to be scheduled between them. Here the lock, the tail and the rows are one call.
--
-- The row hash stays what it was (SHA-256 over the RFC 8785 canonical JSON of the row's content
-- with prev_hash) and is still verified by the application: the application canonicalises each row
-- and sends its bytes before and after the prev_hash value (hash_prefix, hash_suffix, base64), and
-- this function puts the tail between them, so no JSON is canonicalised in SQL.
--
-- rows: a JSON array of objects, in chain order, with at, actor, action, entityType, entityId,
-- deviationId, before, after, reason, details, hashPrefix, hashSuffix. A JSON null before/after is
-- stored as SQL NULL, as the application stores it. Volatile: in READ COMMITTED each statement
-- below takes a fresh snapshot, so the tail read after the lock sees the last holder's commit.
CREATE FUNCTION append_audit_rows(lock_key bigint, rows jsonb)
RETURNS TABLE (row_id bigint, row_prev_hash text, row_hash text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  tail text;
  r jsonb;
BEGIN
  PERFORM pg_advisory_xact_lock(lock_key);
  SELECT a.hash INTO tail FROM audit_trail a ORDER BY a.id DESC LIMIT 1;
  tail := coalesce(tail, repeat('0', 64));
  FOR r IN SELECT e.value FROM jsonb_array_elements(rows) WITH ORDINALITY AS e(value, n) ORDER BY e.n LOOP
    row_prev_hash := tail;
    row_hash := encode(sha256(decode(r->>'hashPrefix', 'base64') || convert_to(tail, 'UTF8') || decode(r->>'hashSuffix', 'base64')), 'hex');
    INSERT INTO audit_trail (at, actor, action, entity_type, entity_id, deviation_id, before, after, reason, details, prev_hash, hash)
    VALUES (
      (r->>'at')::timestamptz, r->>'actor', r->>'action', r->>'entityType', r->>'entityId', r->>'deviationId',
      nullif(r->'before', 'null'::jsonb), nullif(r->'after', 'null'::jsonb), r->>'reason', r->'details',
      row_prev_hash, row_hash
    )
    RETURNING id INTO row_id;
    RETURN NEXT;
    tail := row_hash;
  END LOOP;
END;
$$;

-- Down Migration
DROP FUNCTION append_audit_rows(bigint, jsonb);
