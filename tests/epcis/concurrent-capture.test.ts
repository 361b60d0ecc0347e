import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import request from 'supertest';
import { formatSgtinUrn, withCheckDigit } from '../../domain/gs1';
import { startStack, testConfig, type TestStack } from '../helpers/stack';
import { CAPTURE_KEY, epcisDocument } from './helpers';

/**
 * Documents captured at the same time lock the units they touch in one order (epcis/capture.ts), so
 * two captures never deadlock; and the state they leave does not depend on which came first.
 * Identifiers are this file's own (company prefix 7654321, a per-run tag): the test database is
 * shared with suites running in parallel.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ worker: false, config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY }) });
});
afterAll(async () => {
  await stack.stop();
});

const tag = `K${Date.now().toString(36).toUpperCase()}`;
const gtin = withCheckDigit('0765432100001');
const serial = (i: number) => `${tag}${i}`;
const unit = (i: number) => formatSgtinUrn(gtin, serial(i));
const at = (minute: number) => `2026-11-23T09:${String(minute).padStart(2, '0')}:00Z`;
const object = (minute: number, action: 'ADD' | 'OBSERVE', units: number[], more: Record<string, unknown> = {}) => ({
  type: 'ObjectEvent',
  eventID: `urn:uuid:${randomUUID()}`,
  eventTime: at(minute),
  eventTimeZoneOffset: '+00:00',
  action,
  bizStep: action === 'ADD' ? 'commissioning' : 'inspecting',
  epcList: units.map(unit),
  ...(action === 'ADD' ? { ilmd: { 'cbvmda:lotNumber': `L${tag}`, 'cbvmda:itemExpirationDate': '2028-11-30' } } : {}),
  ...more,
});
type ObjectEvent = ReturnType<typeof object>;
const capture = (events: unknown[]) =>
  request(stack.app)
    .post('/epcis/capture')
    .set('Content-Type', 'application/ld+json')
    .set('X-API-Key', CAPTURE_KEY)
    .send(JSON.stringify(epcisDocument(events, at(0))));

/** Captures of this database waiting for a lock: on units (writing serialized_items), or their turn behind an error declaration. */
async function capturesWaitingForLocks(): Promise<number> {
  const { rows } = await stack.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event_type = 'Lock' AND (query LIKE '%serialized_items%' OR wait_event = 'advisory')`,
  );
  return rows[0]?.n ?? 0;
}

/** The sessions waiting for a lock that session `pid` holds (not those of suites running alongside). */
async function blockedBy(pid: number): Promise<number[]> {
  const { rows } = await stack.pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))', [
    pid,
  ]);
  return rows.map((r) => r.pid);
}
const backendPid = async (client: PoolClient) => (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;

/** Every capture answered 202 (a refused one shows its problem detail in the failure). */
function expectAccepted(answers: Array<{ status: number; body: { detail?: string } }>): void {
  expect(answers.map((a) => [a.status, a.body.detail ?? null])).toEqual(answers.map(() => [202, null]));
}

/** Polls until `count` reaches `n`, for at most `ms`; then the test goes on and its assertions tell. */
async function waitFor(count: () => Promise<number>, n: number, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while ((await count()) < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

describe('documents captured at the same time', () => {
  it('do not deadlock when one retracts an event naming a unit the other also names', async () => {
    const inspection = object(2, 'OBSERVE', [1]);
    const commissioning = object(1, 'ADD', [1, 2, 3]);
    expect((await capture([commissioning, inspection])).status).toBe(202);
    const { rows: firstState } = await stack.pool.query(`SELECT facts FROM serialized_items WHERE gtin = $1 AND serial = $2`, [
      gtin,
      serial(1),
    ]);
    expect(firstState).toHaveLength(1);

    // Hold unit 1 so that both documents are under way before either can pass it: one retracts the
    // inspection (naming unit 1) and observes unit 3; the other observes units 1 and 3.
    const holder = await stack.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM serialized_items WHERE gtin = $1 AND serial = $2 FOR UPDATE', [gtin, serial(1)]);
      const retracting = capture([
        { ...inspection, errorDeclaration: { declarationTime: at(5), reason: 'incorrect_data' } },
        object(6, 'OBSERVE', [3]),
      ]).then((r) => r);
      const observing = capture([object(7, 'OBSERVE', [1, 3])]).then((r) => r);
      await waitFor(capturesWaitingForLocks, 2);
      await holder.query('COMMIT');
      expectAccepted(await Promise.all([retracting, observing]));
    } finally {
      holder.release();
    }

    // Unit 1 is marked for recheck (the retracted inspection named it); every unit's state is the latest event's.
    const { rows } = await stack.pool.query(
      `SELECT serial, status, facts & 512 <> 0 AS recheck FROM serialized_items WHERE gtin = $1 AND serial = ANY ($2) ORDER BY serial`,
      [gtin, [serial(1), serial(2), serial(3)]],
    );
    expect(rows).toEqual([
      { serial: serial(1), status: 'observed', recheck: true },
      { serial: serial(2), status: 'commissioned', recheck: false },
      { serial: serial(3), status: 'observed', recheck: false },
    ]);
  });

  it('link an event and the error declaration retracting it, whichever commits first', async () => {
    expect((await capture([object(20, 'ADD', [21])])).status).toBe(202);
    const inspection = object(21, 'OBSERVE', [21]);
    const holder = await stack.pool.connect();
    try {
      // The document with the event is held before it commits (its unit is locked) ...
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM serialized_items WHERE gtin = $1 AND serial = $2 FOR UPDATE', [gtin, serial(21)]);
      const withEvent = capture([inspection]).then((r) => r);
      await waitFor(capturesWaitingForLocks, 1);
      // ... while the document declaring it an error arrives and would otherwise finish without seeing it.
      let declared = false;
      const withDeclaration = capture([{ ...inspection, errorDeclaration: { declarationTime: at(25), reason: 'incorrect_data' } }]).then(
        (r) => {
          declared = true;
          return r;
        },
      );
      const deadline = Date.now() + 5_000;
      while (!declared && Date.now() < deadline) {
        const { rows } = await stack.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'advisory'`,
        );
        if ((rows[0]?.n ?? 0) > 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      await holder.query('COMMIT');
      expect((await withEvent).status).toBe(202);
      expect((await withDeclaration).status).toBe(202);
    } finally {
      holder.release();
    }
    const { rows } = await stack.pool.query(`SELECT retracted FROM epcis_events WHERE event_id = $1 AND NOT is_declaration`, [
      inspection.eventID,
    ]);
    expect(rows).toEqual([{ retracted: true }]);
    const { rows: unitRows } = await stack.pool.query(
      `SELECT facts & 512 <> 0 AS recheck FROM serialized_items WHERE gtin = $1 AND serial = $2`,
      [gtin, serial(21)],
    );
    expect(unitRows).toEqual([{ recheck: true }]);
  });

  it('merge a new unit that a concurrent capture inserted first, instead of failing on its key or rolling its state back', async () => {
    const holder = await stack.pool.connect();
    try {
      // Another capture's packing of unit 31, inserted but not yet committed when this document
      // (commissioning units 31 and 32) writes its units: the upsert waits for that row, then merges into it.
      await holder.query('BEGIN');
      await holder.query(
        `INSERT INTO serialized_items (gtin, serial, status, status_at, parent_sscc, parent_at, facts, packings, first_parent, last_parent)
         VALUES ($1, $2, 'packed', $3, '076543210000000017', $3, 64, 1, '076543210000000017', '076543210000000017')`,
        [gtin, serial(31), at(40)],
      );
      const commissioning = capture([object(30, 'ADD', [31, 32])]).then((r) => r);
      const holderPid = await backendPid(holder);
      await waitFor(async () => (await blockedBy(holderPid)).length, 1);
      await holder.query('COMMIT');
      expectAccepted([await commissioning]);
    } finally {
      holder.release();
    }
    const { rows } = await stack.pool.query(
      `SELECT serial, status, parent_sscc, facts, commissionings, packings, batch_id IS NOT NULL AS in_batch
         FROM serialized_items WHERE gtin = $1 AND serial = ANY ($2) ORDER BY serial`,
      [gtin, [serial(31), serial(32)]],
    );
    expect(rows).toEqual([
      // the later packing keeps its status and parent; the commissioning adds its count and its batch
      {
        serial: serial(31),
        status: 'packed',
        parent_sscc: '076543210000000017',
        facts: 64,
        commissionings: 1,
        packings: 1,
        in_batch: true,
      },
      { serial: serial(32), status: 'commissioned', parent_sscc: null, facts: 0, commissionings: 1, packings: 0, in_batch: true },
    ]);
  });

  it('do not deadlock when they name the same events in different orders', async () => {
    // Three events whose IDs sort e1 < e2 < e3. Document B names e2, e3, e1; document A names e1, e2.
    const [id1, id2, id3] = [randomUUID(), randomUUID(), randomUUID()].sort().map((u) => `urn:uuid:${u}`) as [string, string, string];
    const [e1, e2, e3] = [id1, id2, id3].map((eventID, i) => ({ ...object(50 + i, 'OBSERVE', [40 + i]), eventID })) as [
      ObjectEvent,
      ObjectEvent,
      ObjectEvent,
    ];
    expect((await capture([object(49, 'ADD', [40, 41, 42])])).status).toBe(202);
    const holder = await stack.pool.connect();
    try {
      // e3 is held (an uncommitted row with its ID), so that B waits there, and A starts while B
      // waits. In ID order B has taken e1 and e2 by then, and A waits for B. In document order B
      // would have taken e2 only; A would take e1 and wait for e2, B then wait for e1: a deadlock,
      // one capture refused.
      await holder.query('BEGIN');
      await holder.query(
        `INSERT INTO epcis_events (event_id, is_declaration, document_id, event_index, type, action, event_time, event_tz_offset)
         VALUES ($1, false, 0, 0, 'ObjectEvent', 'OBSERVE', now(), '+00:00')`,
        [e3.eventID],
      );
      const b = capture([e2, e3, e1]).then((r) => r);
      const holderPid = await backendPid(holder);
      await waitFor(async () => (await blockedBy(holderPid)).length, 1);
      const [bPid] = await blockedBy(holderPid);
      const a = capture([e1, e2]).then((r) => r);
      await waitFor(async () => (bPid === undefined ? 0 : (await blockedBy(bPid)).length), 1);
      await holder.query('ROLLBACK');
      expectAccepted(await Promise.all([b, a]));
    } finally {
      holder.release();
    }
    // Each event stored once, by whichever document inserted it first.
    const { rows } = await stack.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM epcis_events WHERE event_id = ANY ($1)`, [
      [e1.eventID, e2.eventID, e3.eventID],
    ]);
    expect(rows).toEqual([{ n: 3 }]);
  });

  it('answer 503 with Retry-After when the database rolls one back as a deadlock victim, keep nothing of it, and take it when sent again', async () => {
    // A writer that locks units out of capture's order (here: this test's own session) can still
    // deadlock with a capture. PostgreSQL rolls back the session whose wait began first, the
    // capture, provided the circle closes within its deadlock_timeout (1 s); on a machine too slow
    // for that, the test's session is rolled back instead and the test arranges it again.
    let answer: request.Response | undefined;
    let units: [number, number] = [0, 0];
    let observation: ObjectEvent | undefined;
    for (let attempt = 0; attempt < 3 && answer?.status !== 503; attempt++) {
      units = [80 + 2 * attempt, 81 + 2 * attempt];
      expect((await capture([object(55, 'ADD', units)])).status).toBe(202);
      observation = object(56, 'OBSERVE', units);
      const holder = await stack.pool.connect();
      try {
        await holder.query('BEGIN');
        await holder.query('SELECT 1 FROM serialized_items WHERE gtin = $1 AND serial = $2 FOR UPDATE', [gtin, serial(units[1])]);
        const observing = capture([observation]).then((r) => r);
        const holderPid = await backendPid(holder);
        // The capture writes units in key order: it holds the first and waits for the second ...
        await waitFor(async () => (await blockedBy(holderPid)).length, 1);
        // ... and this session now waits for the first: a circle.
        await holder
          .query('SELECT 1 FROM serialized_items WHERE gtin = $1 AND serial = $2 FOR UPDATE', [gtin, serial(units[0])])
          .catch(() => undefined);
        answer = await observing;
        await holder.query('ROLLBACK');
      } finally {
        holder.release();
      }
    }
    expect(answer?.status).toBe(503);
    expect(answer?.headers['retry-after']).toBe('1');
    expect(answer?.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(answer?.body.detail).toContain('nothing was stored');

    const state = async () => {
      const { rows: events } = await stack.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM epcis_events WHERE event_id = $1', [
        observation!.eventID,
      ]);
      const { rows: statuses } = await stack.pool.query<{ status: string }>(
        'SELECT status FROM serialized_items WHERE gtin = $1 AND serial = ANY ($2) ORDER BY serial',
        [gtin, units.map(serial)],
      );
      return { events: events[0]!.n, statuses: statuses.map((r) => r.status) };
    };
    expect(await state()).toEqual({ events: 0, statuses: ['commissioned', 'commissioned'] });
    expectAccepted([await capture([observation])]);
    expect(await state()).toEqual({ events: 1, statuses: ['observed', 'observed'] });
  });

  it('order units by event time even before the common era (the order key never goes negative)', async () => {
    // 0001-01-01T00:00+14:00 is 1 BC in UTC: a valid date-time of the standard.
    const early = object(0, 'ADD', [11, 12], { eventTime: '0001-01-01T00:00:00+14:00', eventTimeZoneOffset: '+14:00' });
    const later = object(0, 'OBSERVE', [11], { eventTime: '0001-01-01T05:00:00+14:00', eventTimeZoneOffset: '+14:00' });
    expect((await capture([later, early])).status).toBe(202);
    const { rows } = await stack.pool.query(
      `SELECT serial, status FROM serialized_items WHERE gtin = $1 AND serial = ANY ($2) ORDER BY serial`,
      [gtin, [serial(11), serial(12)]],
    );
    expect(rows).toEqual([
      { serial: serial(11), status: 'observed' },
      { serial: serial(12), status: 'commissioned' },
    ]);
  });
});
