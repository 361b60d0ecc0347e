import request from 'supertest';
import { formatSgtinUrn, formatSsccUrn, withCheckDigit } from '../../domain/gs1';
import { startStack, testConfig, type TestStack } from '../helpers/stack';
import { CAPTURE_KEY, epcisDocument } from '../epcis/helpers';
import { reconcileBatch, reconcileByTheSteps } from '../../reconciliation/reconcile';

/**
 * The cases reconciliation cannot read off a unit's summary and works out event by event: a child
 * taken out of its case and packed into another, a case emptied whole, a packing event retracted by
 * an error declaration, a unit packed twice into the same case. Hand-made batches of four units,
 * with the balance and every finding computed by hand from the rules in reconciliation/reconcile.ts.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ worker: false, config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY }) });
});
afterAll(async () => {
  await stack.stop();
});

const tag = Date.now().toString(36).toUpperCase().slice(-6);
let seq = 0;
const auth = (r: request.Test) => r.set('X-API-Key', CAPTURE_KEY);

async function scenario(name: string) {
  seq++;
  const gtin = withCheckDigit(`04012345${String(600 + seq).padStart(5, '0')}`);
  const lot = `E${tag}${name}`;
  await auth(request(stack.app).post('/products'))
    .send({ gtin, name: `Edge ${name}`, unitsPerCase: 2, casesPerPallet: 10, aggregationRequired: true })
    .expect(201);
  await auth(request(stack.app).post('/batches')).send({ lot, gtin, expiry: '2028-11-30', plannedQuantity: 4, line: 'EDGE' }).expect(201);
  const serial = (i: number) => `${name}${tag}${i}`;
  const unit = (i: number) => formatSgtinUrn(gtin, serial(i));
  const ssccOf = (i: number) => withCheckDigit(`0401234${String(seq).padStart(4, '0')}${String(i).padStart(6, '0')}`);
  const caseUrn = (i: number) => formatSsccUrn(ssccOf(i));
  let n = 0;
  const id = () => `urn:uuid:00000000-0000-4000-8000-${tag}${String(seq).padStart(2, '0')}${String(++n).padStart(4, '0')}`;
  const at = (minute: number) => `2026-11-23T07:${String(minute).padStart(2, '0')}:00Z`;
  const base = (minute: number) => ({ eventID: id(), eventTime: at(minute), eventTimeZoneOffset: '+00:00' });
  const events = {
    commission: (units: number[]) => ({
      type: 'ObjectEvent',
      ...base(0),
      action: 'ADD',
      bizStep: 'commissioning',
      disposition: 'active',
      epcList: units.map(unit),
      ilmd: { 'cbvmda:lotNumber': lot, 'cbvmda:itemExpirationDate': '2028-11-30' },
    }),
    pack: (minute: number, c: number, units: number[]) => ({
      type: 'AggregationEvent',
      ...base(minute),
      action: 'ADD',
      bizStep: 'packing',
      parentID: caseUrn(c),
      childEPCs: units.map(unit),
    }),
    unpack: (minute: number, c: number, units: number[]) => ({
      type: 'AggregationEvent',
      ...base(minute),
      action: 'DELETE',
      bizStep: 'unpacking',
      parentID: caseUrn(c),
      ...(units.length ? { childEPCs: units.map(unit) } : {}),
    }),
  };
  const capture = async (list: unknown[]) => {
    const body = epcisDocument(list, at(59));
    const res = await auth(request(stack.app).post('/epcis/capture')).set('Content-Type', 'application/ld+json').send(JSON.stringify(body));
    expect(res.status).toBe(202);
  };
  const report = (units: number[]) =>
    auth(request(stack.app).post(`/batches/${encodeURIComponent(lot)}/repository-reports`))
      .send({ target: 'EMVS', reportedAt: at(58), serials: units.map(serial), gtin })
      .expect(201);
  const reconcile = async () => {
    const res = await auth(request(stack.app).post(`/batches/${encodeURIComponent(lot)}/reconciliation`)).expect(201);
    const findings = (res.body.discrepancyList as Array<{ kind: string; serial: string | null; ssccs: string[] | null }>)
      .map((f) => `${f.kind} ${f.serial ?? ''} ${(f.ssccs ?? []).join(',')}`.trim())
      .sort();
    return { balance: res.body.balance, findings };
  };
  return { gtin, events, capture, report, reconcile, serial, ssccOf };
}

describe('reconciliation, worked out event by event', () => {
  it('follows a child taken out of its case and packed into another: in one package, both cases miscounted', async () => {
    const s = await scenario('MOVE');
    await s.capture([s.events.commission([1, 2, 3, 4]), s.events.pack(1, 1, [1, 2]), s.events.pack(2, 2, [3, 4])]);
    await s.capture([s.events.unpack(3, 1, [2]), s.events.pack(4, 2, [2])]);
    await s.report([1, 2, 3, 4]);
    const r = await s.reconcile();
    expect(r.balance).toEqual({ commissioned: 4, packed: 4, rejected: 0, sampled: 0, destroyed: 0, unaccounted: 0 });
    expect(r.findings).toEqual([`case_count  ${s.ssccOf(1)}`, `case_count  ${s.ssccOf(2)}`].sort());
  });

  it('treats the units of a case emptied whole as no longer packed, and of a re-packed case as packed', async () => {
    const s = await scenario('EMPTY');
    await s.capture([
      s.events.commission([1, 2, 3, 4]),
      s.events.pack(1, 1, [1, 2]),
      s.events.pack(2, 2, [3, 4]),
      s.events.unpack(3, 1, []),
      s.events.unpack(4, 2, []),
    ]);
    await s.capture([s.events.pack(5, 3, [3, 4])]);
    await s.report([3, 4]);
    const r = await s.reconcile();
    expect(r.balance).toEqual({ commissioned: 4, packed: 2, rejected: 0, sampled: 0, destroyed: 0, unaccounted: 2 });
    expect(r.findings).toEqual([`unaccounted ${s.serial(1)}`, `unaccounted ${s.serial(2)}`]);
  });

  it('ignores a packing event retracted by an error declaration, and counts a unit packed twice into one case once', async () => {
    const s = await scenario('RETRACT');
    const packing = s.events.pack(1, 1, [1, 2]);
    await s.capture([s.events.commission([1, 2, 3, 4]), packing, s.events.pack(2, 2, [3, 4]), s.events.pack(3, 2, [4])]);
    await s.report([1, 2, 3, 4]);
    const before = await s.reconcile();
    expect(before.balance).toMatchObject({ packed: 4, unaccounted: 0 });
    expect(before.findings).toEqual([]);
    await s.capture([{ ...packing, errorDeclaration: { declarationTime: '2026-11-23T08:00:00Z', reason: 'incorrect_data' } }]);
    const after = await s.reconcile();
    expect(after.balance).toEqual({ commissioned: 4, packed: 2, rejected: 0, sampled: 0, destroyed: 0, unaccounted: 2 });
    expect(after.findings).toEqual([`unaccounted ${s.serial(1)}`, `unaccounted ${s.serial(2)}`]);
  });

  it('reports a released unit missing from the repository report, and a unit in two cases at once', async () => {
    const s = await scenario('TWO');
    await s.capture([
      s.events.commission([1, 2, 3, 4]),
      s.events.pack(1, 1, [1, 2]),
      s.events.pack(2, 2, [3, 4]),
      s.events.pack(3, 3, [1]),
    ]);
    await s.report([1, 2, 3]);
    const r = await s.reconcile();
    expect(r.balance).toEqual({ commissioned: 4, packed: 4, rejected: 0, sampled: 0, destroyed: 0, unaccounted: 0 });
    expect(r.findings).toEqual(
      [
        `child_two_parents ${s.serial(1)} ${[s.ssccOf(1), s.ssccOf(3)].sort().join(',')}`,
        `missing_report ${s.serial(4)}`,
        `case_count  ${s.ssccOf(3)}`,
      ].sort(),
    );
  });
});

describe('a lot nobody captured', () => {
  it('is reported as the steps would report it, without running them; given a GTIN, the steps run', async () => {
    // Captured data of every kind the steps read (emptied and re-packed cases, a retracted event) is
    // in the database from the tests above, or from this scenario when it runs alone.
    const s = await scenario('NONE');
    await s.capture([s.events.commission([1, 2]), s.events.pack(1, 1, [1, 2])]);
    const lot = `N${tag}UNSEEN`;
    const deviationId = 'DEV-2026-990001';

    const quick = await reconcileBatch(stack.pool, { lot, deviationId });
    const steps = await reconcileByTheSteps(stack.pool, { lot, deviationId }, null);
    const { reportId: quickId, generatedAt: quickAt, ...quickContent } = quick;
    const { reportId: stepsId, generatedAt: stepsAt, ...stepsContent } = steps;
    expect(quickContent).toEqual(stepsContent);
    expect(quickContent).toMatchObject({ lot, gtin: null, unknownBatch: true, balance: { commissioned: 0 } });
    expect(quickId).not.toBe(stepsId);
    expect(Date.parse(quickAt)).toBeLessThanOrEqual(Date.parse(stepsAt));

    // Both stored, with the same content hash and the same summary but for the report's number and time.
    const { rows } = await stack.pool.query<{ id: string; content_hash: string; summary: Record<string, unknown>; deviation_id: string }>(
      'SELECT id, content_hash, summary, deviation_id FROM reconciliation_reports WHERE id = ANY($1) ORDER BY id',
      [[quickId, stepsId]],
    );
    expect(rows.map((r) => r.deviation_id)).toEqual([deviationId, deviationId]);
    expect(rows[0]!.content_hash).toBe(rows[1]!.content_hash);
    const stored = rows.map(({ summary: { reportId: _id, generatedAt: _at, ...rest } }) => rest);
    expect(stored[0]).toEqual(stored[1]);

    // With a GTIN the lookup is by the GTIN's units, which the steps do: the report names it.
    const withGtin = await reconcileBatch(stack.pool, { lot, gtin: s.gtin, deviationId });
    expect(withGtin).toMatchObject({ lot, gtin: s.gtin, unknownBatch: true, balance: { commissioned: 0 } });
  });
});
