import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { from as copyFrom } from 'pg-copy-streams';
import { withTransaction, type Pool, type PoolClient, type Queryable, type TransactionControl } from '../db/pool';
import { copyRow, escapeCopyBytes } from '../db/copy-text';
import { arrayLiteral, toIdentifierLists } from './identifier-lists';
import { IS_COMMISSIONING, IS_PACKING, LIST_FACTS, UNIT_FACT } from '../db/unit-facts';
import { normaliseEvent, type CaptureProblem } from './normalise';
import { validateEventSchema, type SchemaProblem } from './schema';
import { MalformedBodyError, PayloadTooLargeError } from '../lib/json-list-splitter';
import { documentReader, type DocumentFormat } from './document-reader';
import { recordMasterData } from './master-data';

/**
 * Capture of one EPCIS document (2.0 JSON, or 1.2/2.0 XML read into the same JSON events:
 * document-reader.ts), streamed: the body is read chunk by chunk, each event is
 * validated and normalised as it arrives and COPYed into a temporary staging table, and the raw
 * bytes go to a temporary file (for the verbatim copy) while their SHA-256 is computed. Nothing is
 * kept per event in memory. When the whole document is valid, one transaction moves the staged rows
 * into the real tables; when anything is wrong, the transaction is rolled back and every problem
 * is returned. Either the whole document is stored or none of it.
 */

export interface CaptureOptions {
  maxBytes: number;
  /** The body's syntax: EPCIS 2.0 JSON(-LD) (the default) or EPCIS 1.2/2.0 XML. */
  format?: DocumentFormat;
  capturedBy: string;
  /** Problems listed in the answer; the count of all of them is always given. */
  maxProblems?: number;
  /**
   * Whether the capturer may send error declarations, which retract captured events (and so the
   * findings they gave): integration clients yes, line operators no. Default true.
   */
  mayRetract?: boolean;
  /**
   * More work in the capture's transaction, once a new document's events are stored (never for a
   * refused document, nor for one captured before): what it writes commits or rolls back with them.
   */
  alsoInTransaction?: (client: PoolClient, documentId: string) => Promise<unknown>;
}

export interface CaptureSuccess {
  ok: true;
  captureId: string;
  documentId: string;
  sha256: string;
  events: number;
  newEvents: number;
  identifiers: number;
  /** True when this exact document (same bytes) was captured before: nothing was applied again. */
  duplicateDocument: boolean;
  capturedAt: string;
}

export interface CaptureFailure {
  ok: false;
  events: number;
  totalProblems: number;
  problems: CaptureProblem[];
}

export const captureIdOf = (documentId: string | number) => `C${documentId}`;

const STAGE_COLUMNS =
  'rt, idx, event_id, legacy_id, is_declaration, type, action, event_time, tz, biz_step, disposition, read_point, biz_location, parent_id, lot, expiry, extra, ' +
  'role, kind, gtin, elot, parent, epc_prefix, keys, epcs, quantities, uoms';

class ProblemList {
  readonly items: CaptureProblem[] = [];
  total = 0;
  constructor(private readonly max: number) {}
  add(p: CaptureProblem): void {
    this.total++;
    if (this.items.length < this.max) this.items.push(p);
  }
}

async function write(stream: Writable, data: string | Buffer): Promise<void> {
  if (!stream.write(data)) await once(stream, 'drain');
}

async function finish(stream: Writable): Promise<void> {
  const done = once(stream, 'finish');
  stream.end();
  await done;
}

export async function captureDocument(
  pool: Pool,
  body: AsyncIterable<Buffer | string>,
  opts: CaptureOptions,
): Promise<CaptureSuccess | CaptureFailure> {
  const tmpFile = path.join(tmpdir(), `epcis-capture-${process.pid}-${randomUUID()}.json`);
  const file = createWriteStream(tmpFile);
  const fileError = once(file, 'error').then(([e]) => e as Error);
  void fileError.catch(() => undefined);
  try {
    // While a COPY is in progress the connection accepts nothing else (not even ROLLBACK): on an
    // error then, the connection is discarded, which ends the transaction on the server.
    return await withTransaction(pool, (client, tx) => captureInTransaction(client, tx, body, opts, { file, tmpFile }));
  } catch (err) {
    // The same document sent twice at once: the second finds the first's row once it commits.
    if ((err as { code?: string }).code === '23505' && /epcis_documents_sha256/.test(String((err as { constraint?: string }).constraint))) {
      const sha = (err as { detail?: string }).detail?.match(/\(sha256\)=\(([0-9a-f]{64})\)/)?.[1];
      const again = sha ? await findDocument(pool, sha) : null;
      if (again) return { ...again, duplicateDocument: true };
    }
    throw err;
  } finally {
    file.destroy();
    await unlink(tmpFile).catch(() => undefined);
  }
}

/**
 * Stages the document's events as they arrive, validates them all, and applies them when nothing
 * is wrong; a refused or already captured document rolls the transaction back.
 */
async function captureInTransaction(
  client: PoolClient,
  tx: TransactionControl,
  body: AsyncIterable<Buffer | string>,
  opts: CaptureOptions,
  { file, tmpFile }: { file: WriteStream; tmpFile: string },
): Promise<CaptureSuccess | CaptureFailure> {
  const problems = new ProblemList(opts.maxProblems ?? 1000);
  // The projections aggregate and sort a document's units (a hundred thousand rows): in memory,
  // not in temp files; and no JIT compilation, which costs more than these statements save.
  await client.query(`SET LOCAL work_mem = '64MB'`);
  await client.query('SET LOCAL jit = off');
  // Events stored under the IDs given before the CBV event hash (migrations/2000): while there are
  // any, each event naming itself by content is also looked for under its former ID.
  const { rows: legacy } = await client.query<{ any: boolean }>('SELECT EXISTS (SELECT 1 FROM epcis_event_legacy_ids) AS any');
  const normalise = { legacyIds: legacy[0]?.any === true };
  await client.query(
    `CREATE TEMP TABLE capture_stage (
       rt char(1) NOT NULL, idx integer NOT NULL, event_id text COLLATE "C", legacy_id text COLLATE "C", is_declaration boolean, type text, action text,
       event_time timestamptz, tz text, biz_step text, disposition text, read_point text, biz_location text,
       parent_id text, lot text, expiry date, extra jsonb,
       -- (GS1 keys in byte order, like the columns they go to: migrations/0500)
       role text, kind text, gtin char(14) COLLATE "C", elot text COLLATE "C", parent text COLLATE "C", epc_prefix text,
       keys text[] COLLATE "C", epcs text[], quantities numeric[], uoms text[]
     ) ON COMMIT DROP`,
  );
  const copy = client.query(copyFrom(`COPY capture_stage (${STAGE_COLUMNS}) FROM STDIN`));
  tx.copyInProgress = true;
  let copyFailed: Error | null = null;
  copy.on('error', (e: Error) => {
    copyFailed = e;
  });

  const hash = createHash('sha256');
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let bytes = 0;
  let identifiers = 0;
  let declarations = 0;
  let legacyIds = 0;
  const batches = new Map<string, { gtin: string; lot: string; expiry: string | null }>();
  const reader = documentReader(opts.format ?? 'json');

  for await (const raw of body) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
    bytes += chunk.length;
    if (bytes > opts.maxBytes) throw new PayloadTooLargeError(opts.maxBytes);
    hash.update(chunk);
    let text: string;
    try {
      text = utf8.decode(chunk, { stream: true });
    } catch {
      throw new MalformedBodyError('the body is not valid UTF-8', bytes - chunk.length);
    }
    await write(file, chunk);
    reader.write(chunk, text);

    let rows = '';
    for (const read of reader.take()) {
      const index = read.index;
      // (an XML event's problems name the element a field came from, and its line)
      const located = (p: CaptureProblem): CaptureProblem =>
        read.locate && p.element === undefined ? { ...p, ...read.locate(p.field) } : p;
      for (const p of read.problems) problems.add(p);
      if (read.event === undefined) continue;
      const event = read.event;
      const readerFlagged = new Set(read.problems.map((p) => p.field));
      const schemaProblems = validateEventSchema(event).filter((p) => !saidBefore(readerFlagged, p));
      for (const p of schemaProblems) problems.add(located({ eventIndex: index, ...p }));
      // An event the schema refused is still checked for what only the GS1 rules catch (a wrong
      // check digit, a bad lot), so that the answer lists every problem, each field once.
      const found: CaptureProblem[] = [];
      if (schemaProblems.length || read.problems.length) {
        try {
          normaliseEvent(event as Record<string, unknown>, index, found, { prefixes: read.prefixes });
        } catch {
          // (a shape too far from an event to read further: its schema problems say enough)
        }
        const flagged = new Set([...readerFlagged, ...schemaProblems.map((p) => p.field)]);
        for (const p of found) if (!flagged.has(p.field.replace(/\[(\d+)\]/g, '.$1'))) problems.add(located(p));
        continue;
      }
      const n = normaliseEvent(event as Record<string, unknown>, index, found, { ...normalise, prefixes: read.prefixes });
      for (const p of found) problems.add(located(p));
      if (n.isDeclaration && opts.mayRetract === false) {
        problems.add({
          eventIndex: index,
          field: 'errorDeclaration',
          reason: 'retracts a captured event; only an integration client may send error declarations',
        });
      }
      // Once anything is wrong nothing will be stored: keep validating, stop staging.
      if (problems.total > 0) continue;
      rows += copyRow([
        'E',
        index,
        n.eventId,
        n.legacyId,
        n.isDeclaration,
        n.type,
        n.action,
        n.eventTime,
        n.eventTzOffset,
        n.bizStep,
        n.disposition,
        n.readPoint,
        n.bizLocation,
        n.parentId,
        n.lot,
        n.expiry,
        n.extraJson,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
      ]);
      identifiers += n.epcs.length;
      if (n.isDeclaration) declarations++;
      if (n.legacyId !== null) legacyIds++;
      for (const l of toIdentifierLists(n.epcs)) {
        rows += copyRow([
          'G',
          index,
          null,
          null,
          null,
          null,
          null,
          null,
          null,
          null,
          null,
          null,
          null,
          null,
          null,
          null,
          null,
          l.role,
          l.kind,
          l.gtin,
          l.lot,
          l.parent,
          l.epcPrefix,
          arrayLiteral(l.keys),
          arrayLiteral(l.epcs),
          arrayLiteral(l.quantities),
          arrayLiteral(l.uoms),
        ]);
        if (l.kind === 'sgtin' && l.lot && l.gtin && n.lot === l.lot)
          batches.set(`${l.gtin}|${l.lot}`, { gtin: l.gtin, lot: l.lot, expiry: n.expiry });
      }
    }
    if (rows) await write(copy, rows);
    if (copyFailed) throw copyFailed;
  }
  try {
    utf8.decode();
  } catch {
    throw new MalformedBodyError('the body is not valid UTF-8', bytes);
  }
  const document = reader.end();
  for (const p of document.problems) problems.add(p);
  await finish(copy);
  tx.copyInProgress = false;
  if (copyFailed) throw copyFailed;
  await finish(file);

  if (problems.total > 0) {
    tx.rollBackOnReturn();
    return { ok: false, events: document.events, totalProblems: problems.total, problems: problems.items };
  }

  const sha256 = hash.digest('hex');
  const existing = await findDocument(client, sha256);
  if (existing) {
    tx.rollBackOnReturn();
    return { ...existing, duplicateDocument: true };
  }
  const result = await apply(client, {
    sha256,
    bytes,
    events: document.events,
    declarations,
    legacyIds,
    capturedBy: opts.capturedBy,
    tmpFile,
    batches: sortedBatches(batches),
  });
  await recordMasterData(client, result.documentId, document.masterData);
  await opts.alsoInTransaction?.(client, result.documentId);
  return { ...result, identifiers };
}

/**
 * Whether a schema problem says again what the reader already reported for the field (or for the
 * field holding it): an XML element the reader refused is left out of the JSON event, which the
 * schema then finds missing.
 */
function saidBefore(readerFlagged: Set<string>, p: SchemaProblem): boolean {
  if (!readerFlagged.size) return false;
  if (readerFlagged.has('(event)')) return true;
  const required = /required property '([^']+)'/.exec(p.reason)?.[1];
  let field = required ? (p.field === '(event)' ? required : `${p.field}.${required}`) : p.field;
  for (;;) {
    if (readerFlagged.has(field)) return true;
    const cut = field.lastIndexOf('.');
    if (cut < 0) return false;
    field = field.slice(0, cut);
  }
}

/** The lots a document creates, in key order: two documents creating the same lots at once then wait for each other in one order. */
const sortedBatches = (batches: Map<string, { gtin: string; lot: string; expiry: string | null }>) =>
  [...batches.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, b]) => b);

async function findDocument(db: Queryable, sha256: string): Promise<CaptureSuccess | null> {
  const { rows } = await db.query<{ id: string; event_count: number; new_events: number; captured_at: Date }>(
    'SELECT id, event_count, new_events, captured_at FROM epcis_documents WHERE sha256 = $1',
    [sha256],
  );
  const row = rows[0];
  if (!row) return null;
  return {
    ok: true,
    captureId: captureIdOf(row.id),
    documentId: row.id,
    sha256,
    events: row.event_count,
    newEvents: 0,
    identifiers: 0,
    duplicateDocument: true,
    capturedAt: row.captured_at.toISOString(),
  };
}

/** A stored document by its ID (the number of its capture job), for GET /epcis/capture/{captureId}. */
export async function findCapturedDocument(
  db: Queryable,
  documentId: string,
): Promise<{ documentId: string; sha256: string; events: number; newEvents: number; capturedAt: string } | null> {
  const { rows } = await db.query<{ id: string; sha256: string; event_count: number; new_events: number; captured_at: Date }>(
    'SELECT id, sha256, event_count, new_events, captured_at FROM epcis_documents WHERE id = $1',
    [documentId],
  );
  const row = rows[0];
  if (!row) return null;
  return {
    documentId: row.id,
    sha256: row.sha256,
    events: row.event_count,
    newEvents: row.new_events,
    capturedAt: row.captured_at.toISOString(),
  };
}

interface ApplyInput {
  sha256: string;
  bytes: number;
  events: number;
  /** How many of the events are error declarations. */
  declarations: number;
  /** How many of the events carry the ID they would have had before the CBV event hash. */
  legacyIds: number;
  capturedBy: string;
  tmpFile: string;
  batches: Array<{ gtin: string; lot: string; expiry: string | null }>;
}

/** The advisory lock key that orders error declarations against the events they retract ("EPCISRET" in ASCII). */
const RETRACTION_LOCK = '4994565968963454292';

/** How many staged events (or declarations) name an event stored under its former ID. */
async function countRenames(client: PoolClient): Promise<number> {
  const { rows } = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM capture_stage s JOIN epcis_event_legacy_ids l ON l.legacy_id = s.legacy_id WHERE s.rt = 'E'`,
  );
  return rows[0]?.n ?? 0;
}

/**
 * An event stored under its former ID (migrations/2000) that arrives again, or whose sender declares
 * it wrong, takes its CBV hash as event_id: the insert below then skips it as seen before, the
 * declaration retracts it, and from then on the sender's ID finds it. The former ID stays in
 * epcis_event_legacy_ids, so it finds the event too. An event whose hash another stored event
 * already has (the same event stored twice before, in two spellings) keeps its former ID.
 */
async function renameLegacyEvents(client: PoolClient): Promise<void> {
  await client.query(
    `UPDATE epcis_events e SET event_id = r.event_id
       FROM (SELECT DISTINCT ON (s.event_id) s.event_id, l.event_pk
               FROM capture_stage s JOIN epcis_event_legacy_ids l ON l.legacy_id = s.legacy_id
              WHERE s.rt = 'E'
              ORDER BY s.event_id, l.event_pk) r
      WHERE e.id = r.event_pk AND NOT e.is_declaration AND e.event_id <> r.event_id
        AND NOT EXISTS (SELECT 1 FROM epcis_events x WHERE x.event_id = r.event_id AND NOT x.is_declaration)`,
  );
}

/** Moves a valid, staged document into the real tables (inside the caller's transaction). */
async function apply(client: PoolClient, input: ApplyInput): Promise<Omit<CaptureSuccess, 'identifiers'>> {
  const { rows: idRows } = await client.query<{ id: string }>(
    `SELECT nextval(pg_get_serial_sequence('epcis_documents', 'id'))::text AS id`,
  );
  const documentId = idRows[0]!.id;

  // The verbatim body, streamed from the temporary file into one text value.
  const docCopy = client.query(copyFrom('COPY epcis_documents (id, sha256, bytes, event_count, new_events, captured_by, body) FROM STDIN'));
  await write(docCopy, copyRow([documentId, input.sha256, input.bytes, input.events, 0, input.capturedBy]).slice(0, -1) + '\t');
  for await (const chunk of createReadStream(input.tmpFile, { highWaterMark: 1 << 20 }))
    await write(docCopy, escapeCopyBytes(chunk as Buffer));
  await write(docCopy, '\n');
  await finish(docCopy);

  // Statistics for the columns the projections join and filter on (not the identifier arrays, whose
  // element statistics cost most of a full ANALYZE and serve no plan here).
  await client.query('ANALYZE capture_stage (rt, idx, role, kind)');
  // An event and the error declaration retracting it, captured at the same time by two documents,
  // would each miss the other (neither is committed when the other looks). Documents with
  // declarations are rare: such a document waits until the captures under way have committed, and
  // the others wait for it, so that whichever comes second sees the first.
  // An event stored under its former ID and sent again is renamed to its CBV hash (below): two
  // documents doing so at once could both rename it; such documents, rare, take turns too.
  const renames = input.legacyIds > 0 ? await countRenames(client) : 0;
  await client.query(
    input.declarations > 0 || renames > 0 ? 'SELECT pg_advisory_xact_lock($1)' : 'SELECT pg_advisory_xact_lock_shared($1)',
    [RETRACTION_LOCK],
  );
  if (renames > 0) await renameLegacyEvents(client);
  // The indices of the events this document adds (not seen before): the projections below read the
  // staged rows of those events, never the ever-growing event tables.
  await client.query('CREATE TEMP TABLE capture_new (idx integer PRIMARY KEY, id bigint NOT NULL) ON COMMIT DROP');
  // An event ID seen before (in an earlier document or earlier in this one) is skipped, with its
  // identifiers. Events are numbered in document order but inserted in the order of their IDs (the
  // first of the same ID in this document first), so that two documents naming the same events in
  // different orders, captured at the same time, wait for each other in one order instead of
  // deadlocking on the unique index.
  const { rows: counts } = await client.query<{ events: string }>(
    `WITH staged AS MATERIALIZED (
       -- (numbered in document order first: an event's id still says which came first)
       SELECT nextval(pg_get_serial_sequence('epcis_events', 'id')) AS id, s.*
         FROM (SELECT * FROM capture_stage WHERE rt = 'E' ORDER BY idx OFFSET 0) s
     ), ins AS (
       INSERT INTO epcis_events (id, event_id, is_declaration, document_id, event_index, type, action, event_time, event_tz_offset,
                                 biz_step, disposition, read_point, biz_location, parent_id, lot, expiry, extra)
       SELECT id, event_id, is_declaration, $1, idx, type, action, event_time, tz, biz_step, disposition, read_point, biz_location,
              parent_id, lot, expiry, extra
         FROM staged ORDER BY event_id, is_declaration, idx
       ON CONFLICT (event_id, is_declaration) DO NOTHING
       RETURNING id, event_index, is_declaration, type, action, biz_step, disposition, event_time
     ), lists AS (
       INSERT INTO epcis_event_identifiers (event_pk, role, kind, gtin, lot, parent, epc_prefix, keys, epcs, quantities, uoms,
                                            event_type, action, biz_step, disposition, event_time)
       SELECT ins.id, s.role, s.kind, s.gtin, s.elot, s.parent, s.epc_prefix, s.keys, s.epcs, s.quantities, s.uoms,
              ins.type, ins.action, ins.biz_step, ins.disposition, ins.event_time
         FROM ins JOIN capture_stage s ON s.rt = 'G' AND s.idx = ins.event_index
        WHERE NOT ins.is_declaration
     ), kept AS (
       INSERT INTO capture_new (idx, id) SELECT event_index, id FROM ins WHERE NOT is_declaration
     )
     SELECT count(*)::text AS events FROM ins`,
    [documentId],
  );
  const newEvents = Number(counts[0]!.events);

  // Error declarations retract the events they name, whichever arrived first.
  const { rows: retractedRows } = await client.query<{ id: string }>(
    `UPDATE epcis_events e SET retracted = true
      WHERE NOT e.is_declaration AND NOT e.retracted
        AND e.event_id IN (SELECT d.event_id FROM epcis_events d
                            WHERE d.is_declaration AND (d.document_id = $1 OR d.event_id IN (SELECT event_id FROM epcis_events WHERE document_id = $1)))
      RETURNING e.id::text`,
    [documentId],
  );

  if (input.batches.length) {
    // A commissioning event for an unknown lot creates its batch from the event's ilmd.
    await client.query(
      `INSERT INTO batches (gtin, lot, expiry, status, source)
       SELECT g, l, e, 'in_production', 'epcis' FROM unnest($1::text[], $2::text[], $3::date[]) AS t(g, l, e)
       ON CONFLICT (gtin, lot) DO NOTHING`,
      [input.batches.map((b) => b.gtin), input.batches.map((b) => b.lot), input.batches.map((b) => b.expiry)],
    );
  }
  // The units those events named keep facts the events no longer state: the projection marks them
  // for reconciliation to work out from the live events instead.
  await updateProjections(
    client,
    retractedRows.map((r) => r.id),
  );
  const { rows: doc } = await client.query<{ captured_at: Date }>(
    'UPDATE epcis_documents SET new_events = $2 WHERE id = $1 RETURNING captured_at',
    [documentId, newEvents],
  );
  return {
    ok: true,
    captureId: captureIdOf(documentId),
    documentId,
    sha256: input.sha256,
    events: input.events,
    newEvents,
    duplicateDocument: false,
    capturedAt: doc[0]!.captured_at.toISOString(),
  };
}

/** The identifier lists of this document's new events, with their event's columns (from the staging table). */
const STAGED_LISTS = `
  SELECT s.idx, n.id AS event_pk, s.role, s.kind, s.gtin, s.elot AS lot, s.parent, s.keys,
         e.type AS event_type, e.action, e.biz_step, e.disposition, e.event_time
    FROM capture_stage s
    JOIN capture_stage e ON e.rt = 'E' AND e.idx = s.idx
    JOIN capture_new n ON n.idx = s.idx
   WHERE s.rt = 'G'`;

/** A unit's status after each kind of event; the position is the status's code in the units' upsert. */
const UNIT_STATUSES = ['commissioned', 'destroyed', 'sampled', 'decommissioned', 'packed', 'unpacked', 'shipped', 'observed'] as const;
const statusCode = (status: (typeof UNIT_STATUSES)[number]) => UNIT_STATUSES.indexOf(status);
/**
 * An event's time as a bigint that sorts like the time: microseconds since 4714 BC, the earliest
 * time PostgreSQL stores, so it is never negative (and its decimal digits sort like its value).
 * Times eight, with a status code in the low bits, it still fits in a bigint past year 9999, the
 * last a date-time of the standard can name.
 */
const EVENT_ORDER = `((extract(epoch FROM l.event_time) * 1000000)::bigint + 211000000000000000)`;
/** True for an identifier-list row `x` whose SGTINs are packed or unpacked (and so get a new parent, or none). */
const AGGREGATION = (x: string) => `(${x}.event_type = 'AggregationEvent' AND ${x}.role = 'child' AND ${x}.action IN ('ADD', 'DELETE'))`;

/**
 * Current state of units and packages (serialized_items, packages) from this document's new events.
 * Latest event time wins, so a document that arrives late never rolls a unit's state back: a unit's
 * status is its latest event's, its parent that of its latest aggregation event. A unit keeps the
 * batch it was first given; within one document, a unit commissioned in two batches (a duplicate
 * reconciliation reports) is given the one known first.
 */
async function updateProjections(client: PoolClient, retractedEventIds: string[]): Promise<void> {
  // One row per unit, aggregated by hashing (no sort of the identifiers): "latest" is the maximum
  // of a key that sorts by event time, with the status or the parent behind it. The units are then
  // written in key order, so documents captured at the same time lock them in the same order. The
  // units of events retracted now are marked in the same pass, for the same reason (a second
  // statement locking them in another order could deadlock with a concurrent capture): those that
  // have a row, and those this document names (a retracted event of its own).
  let recheck = '';
  if (retractedEventIds.length) {
    await client.query(
      `CREATE TEMP TABLE capture_recheck ON COMMIT DROP AS
       SELECT DISTINCT l.gtin, k.serial
         FROM epcis_event_identifiers l CROSS JOIN LATERAL unnest(l.keys) AS k(serial)
        WHERE l.kind = 'sgtin' AND l.event_pk = ANY ($1::bigint[])
          AND (l.event_pk IN (SELECT id FROM capture_new) OR EXISTS (SELECT 1 FROM serialized_items e WHERE e.gtin = l.gtin AND e.serial = k.serial))`,
      [retractedEventIds],
    );
    recheck = `UNION ALL
                     SELECT r.gtin, r.serial, NULL, NULL, NULL, NULL, NULL, ${UNIT_FACT.recheck}, 0, NULL, 0, NULL FROM capture_recheck r`;
  }
  await client.query(
    `INSERT INTO serialized_items AS si (gtin, serial, batch_id, status, status_at, parent_sscc, parent_at,
                                         facts, commissionings, commissioned_by, commissioned_last, packings, first_parent, last_parent)
     SELECT u.gtin, u.serial, u.batch_id,
            -- (a unit named only by a retracted event has no status here: it has a row, and keeps its own)
            COALESCE((ARRAY[${UNIT_STATUSES.map((st) => `'${st}'`).join(', ')}])[(u.latest & 7) + 1], '${UNIT_STATUSES[0]}'),
            COALESCE(u.status_at, '-infinity'),
            NULLIF(substr(u.latest_parent, 21), '')::char(18), u.parent_at,
            u.facts, u.commissionings, u.commissioned_by, u.commissioned_last, u.packings, u.first_parent, u.last_parent
       FROM (SELECT x.gtin, x.serial, min(x.batch_id) AS batch_id, max(x.latest) AS latest, max(x.event_time) AS status_at,
                    max(x.parent_at) AS parent_at, max(x.parent_key) AS latest_parent,
                    bit_or(x.facts) AS facts, sum(x.commissioning)::int AS commissionings,
                    min(x.commissioned_by) AS commissioned_by, max(x.commissioned_by) AS commissioned_last,
                    sum(x.packing)::int AS packings, min(x.packed_in) AS first_parent, max(x.packed_in) AS last_parent
               FROM (SELECT l.gtin, k.serial, l.batch_id, l.event_time, l.latest, l.parent_at, l.parent_key, l.facts,
                            l.commissioning, l.commissioned_by, l.packing, l.packed_in
                       -- (what a list says of its units is worked out once per list, not once per unit)
                       FROM (SELECT l.gtin, l.keys, b.id AS batch_id, l.event_time,
                                    ${EVENT_ORDER} * 8 + CASE
                                      WHEN l.event_type = 'ObjectEvent' AND l.action = 'ADD' THEN ${statusCode('commissioned')}
                                      WHEN l.event_type = 'ObjectEvent' AND l.action = 'DELETE' THEN
                                        CASE WHEN l.biz_step = 'destroying' OR l.disposition = 'destroyed' THEN ${statusCode('destroyed')}
                                             WHEN l.biz_step = 'sampling' THEN ${statusCode('sampled')} ELSE ${statusCode('decommissioned')} END
                                      WHEN l.event_type = 'AggregationEvent' AND l.action = 'ADD' THEN ${statusCode('packed')}
                                      WHEN l.event_type = 'AggregationEvent' AND l.action = 'DELETE' THEN ${statusCode('unpacked')}
                                      WHEN l.biz_step = 'shipping' THEN ${statusCode('shipped')}
                                      ELSE ${statusCode('observed')}
                                    END AS latest,
                                    -- packing and unpacking set or clear the parent: the latest such event's time, and its
                                    -- parent behind a key that sorts by that time
                                    CASE WHEN ${AGGREGATION('l')} THEN l.event_time END AS parent_at,
                                    CASE WHEN ${AGGREGATION('l')} THEN
                                      lpad(${EVENT_ORDER}::text, 20, '0')
                                      || CASE WHEN l.action = 'ADD' AND l.parent ~ '^[0-9]{18}$' THEN l.parent ELSE '' END
                                    END AS parent_key,
                                    ${LIST_FACTS('l')} AS facts,
                                    CASE WHEN ${IS_COMMISSIONING('l')} THEN 1 ELSE 0 END AS commissioning,
                                    CASE WHEN ${IS_COMMISSIONING('l')} THEN l.event_pk END AS commissioned_by,
                                    CASE WHEN ${IS_PACKING('l')} THEN 1 ELSE 0 END AS packing,
                                    CASE WHEN ${IS_PACKING('l')} THEN l.parent END AS packed_in
                               FROM (${STAGED_LISTS}) l
                               LEFT JOIN batches b ON l.lot IS NOT NULL AND b.gtin = l.gtin AND b.lot = l.lot
                              WHERE l.kind = 'sgtin' AND l.role IN ('epc', 'child')
                             OFFSET 0) l
                      CROSS JOIN LATERAL unnest(l.keys) AS k(serial)
                     ${recheck}) x
              GROUP BY x.gtin, x.serial) u
      -- (serial first: the sort then compares abbreviated keys of distinct serials, where the GTIN
      -- leading would tie for every unit of the product; any fixed order avoids deadlocks)
      ORDER BY u.serial, u.gtin
     ON CONFLICT (gtin, serial) DO UPDATE SET
       batch_id = COALESCE(si.batch_id, EXCLUDED.batch_id),
       status = CASE WHEN EXCLUDED.status_at >= si.status_at THEN EXCLUDED.status ELSE si.status END,
       status_at = GREATEST(si.status_at, EXCLUDED.status_at),
       parent_sscc = CASE WHEN EXCLUDED.parent_at IS NOT NULL AND EXCLUDED.parent_at >= COALESCE(si.parent_at, '-infinity') THEN EXCLUDED.parent_sscc ELSE si.parent_sscc END,
       parent_at = CASE WHEN EXCLUDED.parent_at IS NOT NULL AND EXCLUDED.parent_at >= COALESCE(si.parent_at, '-infinity') THEN EXCLUDED.parent_at ELSE si.parent_at END,
       facts = si.facts | EXCLUDED.facts,
       commissionings = si.commissionings + EXCLUDED.commissionings,
       commissioned_by = LEAST(si.commissioned_by, EXCLUDED.commissioned_by),
       commissioned_last = GREATEST(si.commissioned_last, EXCLUDED.commissioned_last),
       packings = si.packings + EXCLUDED.packings,
       first_parent = LEAST(si.first_parent, EXCLUDED.first_parent),
       last_parent = GREATEST(si.last_parent, EXCLUDED.last_parent)`,
  );
  await client.query(
    // Per package of the document: its level from the newest event that knows it, its parent from the
    // newest that names one, its status from its newest event of all (a pallet packed and then shipped
    // in one document is shipped; of two events at the same time, the later in the document).
    `INSERT INTO packages AS p (sscc, level, parent_sscc, status, status_at)
     SELECT DISTINCT ON (k.sscc) k.sscc,
            first_value(k.level) OVER (PARTITION BY k.sscc ORDER BY (k.level = 'unknown'), k.event_time DESC),
            first_value(k.parent_sscc) OVER (PARTITION BY k.sscc ORDER BY (k.parent_sscc IS NULL), k.event_time DESC),
            k.status, k.event_time
       FROM (
         -- a package named as a parent: a case when it holds units, a pallet when it holds packages
         SELECT s.sscc, CASE WHEN x.idx IN (SELECT c.idx FROM capture_stage c WHERE c.rt = 'G' AND c.role = 'child' AND c.kind = 'sscc')
                             THEN 'pallet' ELSE 'case' END AS level,
                NULL::char(18) AS parent_sscc, CASE WHEN x.action = 'DELETE' THEN 'unpacked' ELSE 'packed' END AS status, x.event_time, x.idx
           FROM (${STAGED_LISTS}) x CROSS JOIN LATERAL unnest(x.keys) AS s(sscc)
          WHERE x.kind = 'sscc' AND x.role = 'parent' AND x.event_type = 'AggregationEvent'
         UNION ALL
         -- a package named as a child or in an epcList: its parent, or what happened to it
         SELECT s.sscc, 'unknown', CASE WHEN x.role = 'child' AND x.action = 'ADD' AND x.parent ~ '^[0-9]{18}$' THEN x.parent::char(18) END,
                CASE WHEN x.biz_step = 'shipping' THEN 'shipped' WHEN x.role = 'child' THEN 'packed' ELSE 'observed' END, x.event_time, x.idx
           FROM (${STAGED_LISTS}) x CROSS JOIN LATERAL unnest(x.keys) AS s(sscc)
          WHERE x.kind = 'sscc' AND x.role IN ('child', 'epc')
       ) k
      ORDER BY k.sscc, k.event_time DESC, k.idx DESC
     ON CONFLICT (sscc) DO UPDATE SET
       level = CASE WHEN p.level = 'unknown' THEN EXCLUDED.level ELSE p.level END,
       parent_sscc = COALESCE(EXCLUDED.parent_sscc, p.parent_sscc),
       status = CASE WHEN EXCLUDED.status_at >= p.status_at THEN EXCLUDED.status ELSE p.status END,
       status_at = GREATEST(p.status_at, EXCLUDED.status_at)`,
  );
}
