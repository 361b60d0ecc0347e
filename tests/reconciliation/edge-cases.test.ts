import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { formatEpcDigitalLink, formatSgtinUrn, formatSsccUrn, parseEpc, unwrap, withCheckDigit } from '../../domain/gs1';
import { startStack, testConfig, type TestStack } from '../helpers/stack';
import { CAPTURE_KEY, epcisDocument } from '../epcis/helpers';

/**
 * Reconciliation edge cases that the planted-discrepancy batch does not reach: children moved
 * between cases, cases emptied whole (re-packed or not), a child added twice to one case, a packing
 * event retracted by an error declaration, duplicate commissioning (in two events, and twice within
 * one event), a unit in two cases of which one is emptied, loose shipping of a product without
 * aggregation, a repository report that omits a released unit, and a case holding a unit of
 * another batch of the same product.
 *
 * Each scenario is a hand-made batch of a few units; the balance and the complete list of findings
 * are worked out by hand from the definitions in the doc comment of reconciliation/reconcile.ts
 * (the specification), not from what the SQL happens to return. These tests are the safety net for
 * rewrites of that SQL: they must keep passing.
 *
 * Identifiers are this file's own: company prefix 7612345 (other suites use 4012345), a per-run tag
 * in every lot and serial, random event IDs — the test database is shared with suites running in
 * parallel.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ worker: false, config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY }) });
});
afterAll(async () => {
  await stack.stop();
});

const COMPANY_PREFIX = '7612345';
const UNITS_PER_CASE = 3;
const tag = Date.now().toString(36).toUpperCase().slice(-6);
/** Distinguishes this run's SSCCs from an earlier run's (the database is fresh per run; this is belt and braces). */
const runRef = String(Date.now() % 1000).padStart(3, '0');
let seq = 0;
const auth = (r: request.Test) => r.set('X-API-Key', CAPTURE_KEY);

interface Finding {
  category: string;
  kind: string;
  serial: string | null;
  sgtin: string | null;
  ssccs: string[] | null;
}
const findingKey = (f: Finding) => JSON.stringify([f.category, f.kind, f.serial, f.sgtin, f.ssccs]);
const sortFindings = (list: Finding[]) =>
  [...list].sort((a, b) => (findingKey(a) < findingKey(b) ? -1 : findingKey(a) > findingKey(b) ? 1 : 0));

const CATEGORIES = ['duplicate_serial', 'aggregation_error', 'missing_report', 'lost_packaging', 'unaccounted'] as const;

async function scenario(name: string, opts: { aggregationRequired?: boolean } = {}) {
  seq++;
  const gtin = withCheckDigit(`0${COMPANY_PREFIX}${String(70000 + seq).padStart(5, '0')}`);
  const lot = `X${tag}${name}`;
  await auth(request(stack.app).post('/products'))
    .send({
      gtin,
      name: `Edge case ${name}`,
      unitsPerCase: UNITS_PER_CASE,
      casesPerPallet: 10,
      aggregationRequired: opts.aggregationRequired ?? true,
    })
    .expect(201);
  await auth(request(stack.app).post('/batches')).send({ lot, gtin, expiry: '2028-11-30', plannedQuantity: 8, line: 'EDGE' }).expect(201);

  const serial = (i: number) => `X${name}${tag}${i}`;
  const unit = (i: number) => formatSgtinUrn(gtin, serial(i));
  /** The same unit spelled as a GS1 Digital Link instead of a URN. */
  const unitLink = (i: number) => formatEpcDigitalLink(unwrap(parseEpc(unit(i))));
  /** SSCC of case c of this scenario: extension 0, this file's company prefix, run, scenario, case. */
  const sscc = (c: number) => withCheckDigit(`0${COMPANY_PREFIX}${runRef}${String(seq).padStart(2, '0')}${String(c).padStart(4, '0')}`);
  const caseUrn = (c: number) => formatSsccUrn(sscc(c));
  const at = (minute: number) => `2026-11-23T08:${String(minute).padStart(2, '0')}:00Z`;
  const base = (minute: number) => ({ eventID: `urn:uuid:${randomUUID()}`, eventTime: at(minute), eventTimeZoneOffset: '+00:00' });

  const events = {
    /** ObjectEvent ADD in this lot: commissioning, the epcList exactly as given (repeats kept). */
    commission: (minute: number, units: number[], alsoAsLinks: number[] = []) => ({
      type: 'ObjectEvent',
      ...base(minute),
      action: 'ADD',
      bizStep: 'commissioning',
      disposition: 'active',
      epcList: [...units.map(unit), ...alsoAsLinks.map(unitLink)],
      ilmd: { 'cbvmda:lotNumber': lot, 'cbvmda:itemExpirationDate': '2028-11-30' },
    }),
    pack: (minute: number, c: number, units: number[]) => ({
      type: 'AggregationEvent',
      ...base(minute),
      action: 'ADD',
      bizStep: 'packing',
      disposition: 'in_progress',
      parentID: caseUrn(c),
      childEPCs: units.map(unit),
    }),
    /** AggregationEvent DELETE naming the children taken out. */
    unpack: (minute: number, c: number, units: number[]) => ({
      type: 'AggregationEvent',
      ...base(minute),
      action: 'DELETE',
      bizStep: 'unpacking',
      parentID: caseUrn(c),
      childEPCs: units.map(unit),
    }),
    /** AggregationEvent DELETE naming the parent and no children: the case emptied whole. */
    empty: (minute: number, c: number) => ({
      type: 'AggregationEvent',
      ...base(minute),
      action: 'DELETE',
      bizStep: 'unpacking',
      parentID: caseUrn(c),
    }),
    observe: (minute: number, units: number[], bizStep: string, disposition: string) => ({
      type: 'ObjectEvent',
      ...base(minute),
      action: 'OBSERVE',
      bizStep,
      disposition,
      epcList: units.map(unit),
    }),
  };

  const post = (list: unknown[]) => {
    const body = epcisDocument(list, '2026-11-23T09:00:00Z');
    return auth(request(stack.app).post('/epcis/capture')).set('Content-Type', 'application/ld+json').send(JSON.stringify(body));
  };
  const capture = async (list: unknown[]) => {
    const res = await post(list);
    if (res.status !== 202) throw new Error(`capture refused: ${res.status} ${JSON.stringify(res.body).slice(0, 1000)}`);
    expect(res.body).toMatchObject({ success: true, newEvents: list.length });
  };
  const report = (units: number[]) =>
    auth(request(stack.app).post(`/batches/${encodeURIComponent(lot)}/repository-reports`))
      .send({ target: 'EMVS', reportedAt: '2026-11-23T09:30:00Z', serials: units.map(serial), gtin })
      .expect(201);
  const reconcile = async () => {
    const res = await auth(request(stack.app).post(`/batches/${encodeURIComponent(lot)}/reconciliation`)).expect(201);
    expect(res.body.discrepancyListTruncated).toBe(false);
    const list = (res.body.discrepancyList as Array<Finding & { gtin: string | null }>).map((f) => {
      // Every finding is about this batch's product (foreign children aside, which no scenario has).
      expect(f.gtin).toBe(gtin);
      return { category: f.category, kind: f.kind, serial: f.serial, sgtin: f.sgtin, ssccs: f.ssccs };
    });
    // The per-category counts are the list, counted.
    const counts = Object.fromEntries(CATEGORIES.map((c) => [c, list.filter((f) => f.category === c).length]));
    expect(res.body.discrepancies).toEqual(counts);
    const b = res.body.balance;
    expect(b.commissioned).toBe(b.packed + b.rejected + b.sampled + b.destroyed + b.unaccounted);
    return { balance: b, findings: sortFindings(list) };
  };

  /** Expected findings, spelled the way reconciliation spells them. */
  const expected = {
    caseCount: (c: number): Finding => ({ category: 'aggregation_error', kind: 'case_count', serial: null, sgtin: null, ssccs: [sscc(c)] }),
    twoParents: (i: number, cases: number[]): Finding => ({
      category: 'aggregation_error',
      kind: 'child_two_parents',
      serial: serial(i),
      sgtin: unit(i),
      ssccs: cases.map(sscc).sort(),
    }),
    unaggregated: (i: number): Finding => ({
      category: 'aggregation_error',
      kind: 'unaggregated',
      serial: serial(i),
      sgtin: unit(i),
      ssccs: null,
    }),
    unaccounted: (i: number): Finding => ({ category: 'unaccounted', kind: 'unaccounted', serial: serial(i), sgtin: unit(i), ssccs: null }),
    missingReport: (i: number): Finding => ({
      category: 'missing_report',
      kind: 'missing_report',
      serial: serial(i),
      sgtin: unit(i),
      ssccs: null,
    }),
    duplicate: (i: number): Finding => ({
      category: 'duplicate_serial',
      kind: 'duplicate_serial',
      serial: serial(i),
      sgtin: unit(i),
      ssccs: null,
    }),
    foreignChild: (i: number, c: number): Finding => ({
      category: 'aggregation_error',
      kind: 'foreign_child',
      serial: serial(i),
      sgtin: unit(i),
      ssccs: [sscc(c)],
    }),
    sort: sortFindings,
  };
  const balance = (b: Partial<Record<'commissioned' | 'packed' | 'rejected' | 'sampled' | 'destroyed' | 'unaccounted', number>>) => ({
    commissioned: 0,
    packed: 0,
    rejected: 0,
    sampled: 0,
    destroyed: 0,
    unaccounted: 0,
    ...b,
  });
  return { events, post, capture, report, reconcile, expected, balance, sscc };
}

describe('reconciliation edge cases (hand-computed from the definitions in reconcile.ts)', () => {
  it('1. a child taken out of its case by a DELETE naming it and re-packed into another: packed once, no two parents; the first case is short', async () => {
    const s = await scenario('MOVE');
    // case 1 ← 1,2,3; case 2 ← 4,5; then 3 out of case 1 and into case 2.
    await s.capture([s.events.commission(0, [1, 2, 3, 4, 5]), s.events.pack(1, 1, [1, 2, 3]), s.events.pack(2, 2, [4, 5])]);
    await s.capture([s.events.unpack(3, 1, [3]), s.events.pack(4, 2, [3])]);
    await s.report([1, 2, 3, 4, 5]);
    const r = await s.reconcile();
    // Every unit currently has exactly one parent: case 1 holds 1,2 (2 ≠ 3: case_count), case 2 holds 4,5,3 (3: fine).
    expect(r.balance).toEqual(s.balance({ commissioned: 5, packed: 5 }));
    expect(r.findings).toEqual([s.expected.caseCount(1)]);
  });

  it('2. a case emptied whole and its units re-packed into a new case: packed, nothing about the old case', async () => {
    const s = await scenario('REPACK');
    await s.capture([s.events.commission(0, [1, 2, 3, 4, 5, 6]), s.events.pack(1, 1, [1, 2, 3]), s.events.pack(2, 2, [4, 5, 6])]);
    await s.capture([s.events.empty(3, 1), s.events.pack(4, 3, [1, 2, 3])]);
    await s.report([1, 2, 3, 4, 5, 6]);
    const r = await s.reconcile();
    // Units 1,2,3 are in case 3 only (their edges to case 1 were undone by the emptying); case 1 holds
    // nothing and is no package of the batch's units; cases 2 and 3 hold 3 each.
    expect(r.balance).toEqual(s.balance({ commissioned: 6, packed: 6 }));
    expect(r.findings).toEqual([]);
  });

  it('3. a case emptied whole and not re-packed: its units are no longer packed (unaccounted; unaggregated when observed)', async () => {
    const s = await scenario('EMPTIED');
    await s.capture([s.events.commission(0, [1, 2, 3, 4, 5, 6]), s.events.pack(1, 1, [1, 2, 3]), s.events.pack(2, 2, [4, 5, 6])]);
    // Case 1 emptied; unit 3 is seen again afterwards (inspected), 1 and 2 never again.
    await s.capture([s.events.empty(3, 1), s.events.observe(4, [3], 'inspecting', 'active')]);
    // Released = packed now or observed: 3,4,5,6. Units 1 and 2 are not released, so their absence
    // from the report is no finding.
    await s.report([3, 4, 5, 6]);
    const r = await s.reconcile();
    // Aggregation required: an observation does not make unit 3 packed; 1,2,3 have no parent now.
    expect(r.balance).toEqual(s.balance({ commissioned: 6, packed: 3, unaccounted: 3 }));
    expect(r.findings).toEqual(s.expected.sort([s.expected.unaccounted(1), s.expected.unaccounted(2), s.expected.unaggregated(3)]));
  });

  it('4. the same child added twice to the same case: in one package, counted once in the case', async () => {
    const s = await scenario('TWICE');
    await s.capture([s.events.commission(0, [1, 2, 3, 4, 5, 6]), s.events.pack(1, 1, [1, 2, 3]), s.events.pack(2, 2, [4, 5, 6])]);
    await s.capture([s.events.pack(3, 1, [3])]);
    await s.report([1, 2, 3, 4, 5, 6]);
    const r = await s.reconcile();
    // Counting unit 3 twice would give case 1 four children (case_count) or two packages (child_two_parents).
    expect(r.balance).toEqual(s.balance({ commissioned: 6, packed: 6 }));
    expect(r.findings).toEqual([]);
  });

  it('5. a packing event retracted by an error declaration is ignored', async () => {
    const s = await scenario('RETRACT');
    const mistake = s.events.pack(3, 3, [3]);
    await s.capture([s.events.commission(0, [1, 2, 3, 4, 5, 6]), s.events.pack(1, 1, [1, 2, 3]), s.events.pack(2, 2, [4, 5, 6]), mistake]);
    await s.report([1, 2, 3, 4, 5, 6]);
    // Before the declaration: unit 3 is in cases 1 and 3 at once, and case 3 holds one unit.
    const before = await s.reconcile();
    expect(before.balance).toEqual(s.balance({ commissioned: 6, packed: 6 }));
    expect(before.findings).toEqual(s.expected.sort([s.expected.twoParents(3, [1, 3]), s.expected.caseCount(3)]));
    // The error declaration: the same event, same eventID, with errorDeclaration.
    await s.capture([{ ...mistake, errorDeclaration: { declarationTime: '2026-11-23T08:30:00Z', reason: 'incorrect_data' } }]);
    const after = await s.reconcile();
    // Without the retracted event: unit 3 is in case 1 only; every unit is still counted once — unit 3
    // too, although its facts must now be worked out from the live events rather than its summary.
    expect(after.balance).toEqual(s.balance({ commissioned: 6, packed: 6 }));
    expect(after.findings).toEqual([]);
  });

  it('6a. a unit commissioned twice in the batch, in two events: one duplicate_serial, counted once in the balance', async () => {
    const s = await scenario('DUPTWO');
    await s.capture([s.events.commission(0, [1, 2, 3, 4, 5, 6]), s.events.commission(1, [1])]);
    await s.capture([s.events.pack(2, 1, [1, 2, 3]), s.events.pack(3, 2, [4, 5, 6])]);
    await s.report([1, 2, 3, 4, 5, 6]);
    const r = await s.reconcile();
    expect(r.balance).toEqual(s.balance({ commissioned: 6, packed: 6 }));
    expect(r.findings).toEqual([s.expected.duplicate(1)]);
  });

  it('6c. a unit commissioned three times in the batch: one duplicate_serial, counted once in the balance', async () => {
    const s = await scenario('DUPTHREE');
    await s.capture([s.events.commission(0, [1, 2, 3, 4, 5, 6]), s.events.commission(1, [4]), s.events.commission(2, [4])]);
    await s.capture([s.events.pack(3, 1, [1, 2, 3]), s.events.pack(4, 2, [4, 5, 6])]);
    await s.report([1, 2, 3, 4, 5, 6]);
    const r = await s.reconcile();
    expect(r.balance).toEqual(s.balance({ commissioned: 6, packed: 6 }));
    expect(r.findings).toEqual([s.expected.duplicate(4)]);
  });

  it('6b. a unit listed twice within one commissioning event: one commissioning event, no duplicate_serial, counted once', async () => {
    const s = await scenario('DUPONE');
    // The same spelling twice in one epcList never gets in: the EPCIS schema wants unique items.
    const refused = await s.post([s.events.commission(0, [1, 2, 3, 4, 2, 5, 6])]);
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([
      expect.objectContaining({ eventIndex: 0, field: 'epcList', reason: expect.stringContaining('duplicate items') }),
    ]);
    // The same unit in two spellings (URN and Digital Link) in one event does: unit 2 is listed twice
    // by one commissioning event. The distinct commissioning events decide: one, so no duplicate.
    // Unit 2 is an ordinary unit then (packed once, reported) and counts once in the balance like the rest.
    await s.capture([s.events.commission(0, [1, 2, 3, 4, 5, 6], [2])]);
    await s.capture([s.events.pack(2, 1, [1, 2, 3]), s.events.pack(3, 2, [4, 5, 6])]);
    await s.report([1, 2, 3, 4, 5, 6]);
    const r = await s.reconcile();
    expect(r.balance).toEqual(s.balance({ commissioned: 6, packed: 6 }));
    expect(r.findings).toEqual([]);
  });

  it('7. a unit in two cases at once, one of them later emptied whole: no longer two parents', async () => {
    const s = await scenario('TWOEMPTY');
    await s.capture([
      s.events.commission(0, [1, 2, 3, 4, 5, 6]),
      s.events.pack(1, 1, [1, 2, 3]),
      s.events.pack(2, 2, [4, 5, 6]),
      s.events.pack(3, 3, [3]),
    ]);
    await s.report([1, 2, 3, 4, 5, 6]);
    const before = await s.reconcile();
    expect(before.balance).toEqual(s.balance({ commissioned: 6, packed: 6 }));
    expect(before.findings).toEqual(s.expected.sort([s.expected.twoParents(3, [1, 3]), s.expected.caseCount(3)]));
    await s.capture([s.events.empty(4, 3)]);
    const after = await s.reconcile();
    // Case 3 holds nothing now; unit 3 is in case 1 only, which holds 3 again.
    expect(after.balance).toEqual(s.balance({ commissioned: 6, packed: 6 }));
    expect(after.findings).toEqual([]);
  });

  it('8. a product without aggregation: units shipped loose count as packed and are not unaggregated', async () => {
    const s = await scenario('LOOSE', { aggregationRequired: false });
    await s.capture([s.events.commission(0, [1, 2, 3, 4])]);
    await s.capture([s.events.observe(1, [1, 2, 3], 'shipping', 'in_transit')]);
    await s.report([1, 2, 3]);
    const r = await s.reconcile();
    // 1,2,3 observed after commissioning (shipped loose): packed. 4: nothing after commissioning.
    // No case exists, so no case_count; aggregation is not required, so no unaggregated.
    expect(r.balance).toEqual(s.balance({ commissioned: 4, packed: 3, unaccounted: 1 }));
    expect(r.findings).toEqual([s.expected.unaccounted(4)]);
  });

  it('9. repository reports that omit one released unit: exactly one missing_report, for it', async () => {
    const s = await scenario('REPORT');
    await s.capture([s.events.commission(0, [1, 2, 3, 4, 5, 6, 7]), s.events.pack(1, 1, [1, 2, 3]), s.events.pack(2, 2, [4, 5, 6])]);
    // Two reports: a unit absent from one but present in the other is reported. Unit 6 is in neither;
    // unit 7 is in neither either, but it was never released (commissioned and then nothing).
    await s.report([1, 2, 3]);
    await s.report([4, 5]);
    const r = await s.reconcile();
    expect(r.balance).toEqual(s.balance({ commissioned: 7, packed: 6, unaccounted: 1 }));
    expect(r.findings).toEqual(s.expected.sort([s.expected.missingReport(6), s.expected.unaccounted(7)]));
  });

  it('11. a case of the batch holding a unit of another batch of the same product: one foreign_child, and the case is full', async () => {
    const s = await scenario('SAMEGTIN');
    // Unit 9 is commissioned in another lot of this product (its batch created from the ilmd), then
    // packed by mistake with units 1 and 2 of this batch: same GTIN, so only the batch tells it apart.
    const otherLot = {
      ...s.events.commission(0, [9]),
      ilmd: { 'cbvmda:lotNumber': `Y${tag}SAMEGTIN`, 'cbvmda:itemExpirationDate': '2029-01-31' },
    };
    await s.capture([otherLot, s.events.commission(1, [1, 2]), s.events.pack(2, 1, [1, 2, 9])]);
    await s.report([1, 2]);
    const r = await s.reconcile();
    // The case holds three children (the packing level): no case_count. Unit 9 counts in its own batch, not here.
    expect(r.balance).toEqual(s.balance({ commissioned: 2, packed: 2 }));
    expect(r.findings).toEqual([s.expected.foreignChild(9, 1)]);
  });

  it('12. a unit taken out of its case for sampling: sampled, not unaccounted; the case is short', async () => {
    const s = await scenario('SAMPLEOUT');
    await s.capture([s.events.commission(0, [1, 2, 3, 4, 5, 6]), s.events.pack(1, 1, [1, 2, 3]), s.events.pack(2, 2, [4, 5, 6])]);
    // An AggregationEvent DELETE with bizStep sampling: the unit leaves its case as a sample.
    await s.capture([{ ...s.events.unpack(3, 1, [3]), bizStep: 'sampling' }]);
    await s.report([1, 2, 3, 4, 5, 6]);
    const r = await s.reconcile();
    expect(r.balance).toEqual(s.balance({ commissioned: 6, packed: 5, sampled: 1 }));
    expect(r.findings).toEqual([s.expected.caseCount(1)]);
  });

  it('13. a unit read before its commissioning and not after: not observed after commissioning, so unaccounted, not shipped loose', async () => {
    const s = await scenario('EARLYREAD', { aggregationRequired: false });
    // Unit 1 is read at minute 0, commissioned with unit 2 at minute 5; unit 3 is read after commissioning.
    await s.capture([
      s.events.observe(0, [1], 'inspecting', 'active'),
      s.events.commission(5, [1, 2, 3]),
      s.events.observe(6, [3], 'shipping', 'in_transit'),
    ]);
    await s.report([1, 2, 3]);
    const r = await s.reconcile();
    expect(r.balance).toEqual(s.balance({ commissioned: 3, packed: 1, unaccounted: 2 }));
    expect(r.findings).toEqual(s.expected.sort([s.expected.unaccounted(1), s.expected.unaccounted(2)]));
  });

  it('14. the same early reading for a unit whose facts are worked out from the live events (another event naming it was retracted)', async () => {
    const s = await scenario('EARLYRETRACT');
    const mistake = s.events.observe(7, [1], 'inspecting', 'active');
    await s.capture([
      s.events.observe(0, [1], 'inspecting', 'active'),
      s.events.commission(5, [1, 2, 3]),
      s.events.pack(6, 1, [2, 3]),
      mistake,
    ]);
    await s.capture([{ ...mistake, errorDeclaration: { declarationTime: '2026-11-23T08:30:00Z', reason: 'incorrect_data' } }]);
    await s.report([1, 2, 3]);
    const r = await s.reconcile();
    // Aggregation required: were the reading at minute 0 counted, unit 1 would be unaggregated.
    expect(r.balance).toEqual(s.balance({ commissioned: 3, packed: 2, unaccounted: 1 }));
    expect(r.findings).toEqual(s.expected.sort([s.expected.unaccounted(1), s.expected.caseCount(1)]));
  });

  it('10. documents sent at the same time, packing before commissioning among them: the same balance and findings as one after another', async () => {
    const s = await scenario('CONCURRENT');
    const units = Array.from({ length: 30 }, (_, i) => i + 1);
    const cases = Array.from({ length: 10 }, (_, c) => c + 1);
    // Three integration clients at once: packing, commissioning, and a second commissioning of unit 7.
    await Promise.all([
      s.capture(cases.map((c) => s.events.pack(10 + c, c, [3 * c - 2, 3 * c - 1, 3 * c]))),
      s.capture([s.events.commission(0, units)]),
      s.capture([s.events.commission(1, [7])]),
    ]);
    await s.report(units);
    const r = await s.reconcile();
    expect(r.balance).toEqual(s.balance({ commissioned: 30, packed: 30 }));
    expect(r.findings).toEqual([s.expected.duplicate(7)]);
  });
});
