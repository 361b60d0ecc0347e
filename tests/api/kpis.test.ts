import { randomBytes, randomInt } from 'node:crypto';
import request from 'supertest';
import { createReadModelActivities } from '../../activities/read-model';
import { policySchema, type Policy } from '../../domain/policy';
import { appendSignature } from '../../signatures';
import type { DeviationSnapshot } from '../../workflows/types';
import { as, createCast, sign, type Cast } from '../helpers/actors';
import { newDeviationRequest } from '../helpers/fixtures';
import { compressedPolicy, eventually, startStack, type TestStack } from '../helpers/stack';

/**
 * GET /kpis against a known set of deviations. Two sets, each on lines of its own (test files
 * share the database):
 *  - written straight into the read model, the ledger, the outbox and the reconciliation reports,
 *    dated 2003, for what the workflow would take too long to reach (closure, effectiveness, a
 *    window in the past); the rows are the ones the workflow and reconciliation write;
 *  - run through the real workflow now, for containment, recurrence and overdue sign-offs.
 * Every expected value is worked out by hand below, from the times written.
 */

const tag = randomBytes(4).toString('hex').toUpperCase();
const LINE_A = `KPI-${tag}-A`;
const LINE_B = `KPI-${tag}-B`;
const LINE_C = `KPI-${tag}-C`;
const NORTH = `North ${tag}`;
const SOUTH = `South ${tag}`;

/** The compressed policy with a 20-second containment window (room to confirm in time), a closure target and sites. */
const policy: Policy = (() => {
  const base = compressedPolicy();
  const severities = Object.fromEntries(
    Object.entries(base.severities).map(([s, p]) => [s, { ...p, containmentWindow: '20 seconds' }]),
  ) as Policy['severities'];
  return policySchema.parse({ ...base, severities, closureTarget: '10 days', sites: { [NORTH]: [LINE_A], [SOUTH]: [LINE_B] } });
})();
const WINDOW_S = 20;
const DAY_S = 86_400;

let stack: TestStack;
let cast: Cast;
beforeAll(async () => {
  stack = await startStack({ policy });
  cast = await createCast(stack.app, stack.pool);
  await seedPast();
});
afterAll(async () => {
  await stack.stop();
});

const kpis = async (query: Record<string, string>) =>
  (await request(stack.app).get('/kpis').set(as(cast.auditor)).query(query).expect(200)).body;

// --- The set of 2003, written straight into the tables -------------------------------------------

const at = (iso: string) => new Date(iso);
const plus = (iso: string, seconds: number) => new Date(Date.parse(iso) + seconds * 1000);
const base = randomInt(100_000, 900_000);
const devId = (n: number) => `DEV-2003-${base}${n}`;

interface SeedDeviation {
  n: number;
  line: string;
  severity: 'critical' | 'major' | 'minor';
  stage: string;
  status: 'open' | 'closed' | 'cancelled';
  detectedAt: string;
  /** The last stage change: for a closed or cancelled deviation, when it ended. */
  updatedAt: Date;
  source?: string;
  recurrences?: number[];
}

async function deviation(d: SeedDeviation): Promise<void> {
  await stack.pool.query(
    `INSERT INTO deviations (id, title, symptom, severity, stage, status, batches, reported_by, detected_at, updated_at,
                             version, summary, lines, source)
     VALUES ($1, 'KPI seed', 'other', $2, $3, $4, $5, 'qa.lead', $6, $7, 5, $8, $9, $10)`,
    [
      devId(d.n),
      d.severity,
      d.stage,
      d.status,
      [`K${tag}${d.n}`],
      at(d.detectedAt),
      d.updatedAt,
      JSON.stringify({ recurrences: (d.recurrences ?? []).map(devId) }),
      [d.line],
      d.source ?? 'manual',
    ],
  );
}

/** A sign-off task; for roles none, so that no one's inbox (in the database other test files share) shows it. */
async function task(n: number, t: number, gate: string, status: string, createdAt: Date, dueAt: Date): Promise<string> {
  const id = `${devId(n)}.T${t}`;
  await stack.pool.query(
    `INSERT INTO signoff_tasks (id, deviation_id, gate, title, roles, meaning, signatures_required, signatures, status, overdue,
                                created_at, due_at, version)
     VALUES ($1, $2, $3, $3, '{}', 'verified', 1, 0, $4, false, $5, $6, 1)`,
    [id, devId(n), gate, status, createdAt, dueAt],
  );
  return id;
}

async function signature(n: number, taskId: string, meaning: 'verified' | 'approved' | 'rejected', signedAt: Date): Promise<void> {
  await appendSignature(stack.pool, {
    taskId,
    deviationId: devId(n),
    signerId: cast.qaLead.id,
    login: cast.qaLead.login,
    printedName: cast.qaLead.printedName,
    meaning,
    signedAt,
    recordHash: 'cd'.repeat(32),
  });
}

/** The containment task as the workflow opens it (2 s after detection, due at the window's end), signed `after` seconds after detection. */
async function containmentConfirmed(n: number, detectedAt: string, after: number): Promise<void> {
  const id = await task(n, 1, 'containment_verification', 'signed', plus(detectedAt, 2), plus(detectedAt, WINDOW_S));
  await signature(n, id, 'verified', plus(detectedAt, after));
}

async function notMet(n: number, createdAt: string): Promise<void> {
  await stack.pool.query(
    `INSERT INTO notifications (dedupe_key, deviation_id, kind, recipients, subject, created_at, status)
     VALUES ($1, $2, 'effectiveness_not_met', '{role:qa_lead}', 'not met', $3, 'sent')`,
    [`${devId(n)}:r1:effectiveness:not-met`, devId(n), at(createdAt)],
  );
}

let batchNumber = 0;
/** A batch on the line and its reconciliation reports: [generated at, commissioned, discrepancies by category]. */
async function batch(line: string | null, reports: Array<[string, number, Record<string, number>]>): Promise<void> {
  batchNumber += 1;
  const lot = `K${tag}B${batchNumber}`;
  const gtin = `09${String(randomInt(0, 1e9)).padStart(12, '0')}`;
  const { rows } = await stack.pool.query<{ id: string }>(`INSERT INTO batches (gtin, lot, line) VALUES ($1, $2, $3) RETURNING id`, [
    gtin,
    lot,
    line,
  ]);
  for (const [i, [generatedAt, commissioned, found]] of reports.entries()) {
    const discrepancies = { duplicate_serial: 0, aggregation_error: 0, missing_report: 0, lost_packaging: 0, unaccounted: 0, ...found };
    await stack.pool.query(
      `INSERT INTO reconciliation_reports (id, batch_id, lot, gtin, content_hash, summary, generated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [
        `RR-${lot}-${i}`,
        rows[0]!.id,
        lot,
        gtin,
        'ef'.repeat(32),
        JSON.stringify({ lot, gtin, balance: { commissioned }, discrepancies }),
        at(generatedAt),
      ],
    );
  }
}

/**
 * The window of 2003 is [2003-01-01, 2003-04-01); the containment window 20 s, the closure target
 * 10 days. North is line A, South line B; line C is on no site.
 */
async function seedPast(): Promise<void> {
  // S1 (A, major): contained in 12 s; its first effectiveness check met on 13 Jan; closed after 5 days.
  await deviation({
    n: 1,
    line: LINE_A,
    severity: 'major',
    stage: 'closed',
    status: 'closed',
    detectedAt: '2003-01-10T08:00:00Z',
    updatedAt: at('2003-01-15T08:00:00Z'),
  });
  await containmentConfirmed(1, '2003-01-10T08:00:00Z', 12);
  await task(1, 2, 'effectiveness_verification', 'signed', at('2003-01-13T00:00:00Z'), at('2003-01-14T00:00:00Z'));
  // S2 (A, critical, by SPC, a recurrence of S1): containment rejected at 5 s, then confirmed at 30 s (late);
  // its first check not met (10 Feb), the second met (15 Feb); closed after 20 days.
  const s2 = '2003-02-01T00:00:00Z';
  await deviation({
    n: 2,
    line: LINE_A,
    severity: 'critical',
    stage: 'closed',
    status: 'closed',
    detectedAt: s2,
    updatedAt: at('2003-02-21T00:00:00Z'),
    source: 'spc',
    recurrences: [1],
  });
  await signature(2, await task(2, 1, 'containment_verification', 'rejected', plus(s2, 2), plus(s2, WINDOW_S)), 'rejected', plus(s2, 5));
  await signature(2, await task(2, 2, 'containment_verification', 'signed', plus(s2, 5), plus(s2, WINDOW_S)), 'verified', plus(s2, 30));
  await notMet(2, '2003-02-10T00:00:00Z');
  await task(2, 3, 'effectiveness_verification', 'signed', at('2003-02-15T00:00:00Z'), at('2003-02-16T00:00:00Z'));
  // S3 (B, minor, by reconciliation): contained in 8 s; in investigation since, its report's approval overdue since 10 Mar.
  await deviation({
    n: 3,
    line: LINE_B,
    severity: 'minor',
    stage: 'investigation',
    status: 'open',
    detectedAt: '2003-03-01T00:00:00Z',
    updatedAt: at('2003-03-01T00:10:00Z'),
    source: 'reconciliation',
  });
  await containmentConfirmed(3, '2003-03-01T00:00:00Z', 8);
  await task(3, 2, 'investigation_approval', 'open', at('2003-03-05T00:00:00Z'), at('2003-03-10T00:00:00Z'));
  // S4 (B, major, a recurrence of S3): never contained; its containment task overdue.
  const s4 = '2003-03-20T00:00:00Z';
  await deviation({
    n: 4,
    line: LINE_B,
    severity: 'major',
    stage: 'containment',
    status: 'open',
    detectedAt: s4,
    updatedAt: plus(s4, 1),
    recurrences: [3],
  });
  await task(4, 1, 'containment_verification', 'open', plus(s4, 2), plus(s4, WINDOW_S));
  // S5 (A, major): detected 10 s before the window ends: its containment window is still running at `to`.
  const s5 = '2003-03-31T23:59:50Z';
  await deviation({ n: 5, line: LINE_A, severity: 'major', stage: 'containment', status: 'open', detectedAt: s5, updatedAt: plus(s5, 1) });
  await task(5, 1, 'containment_verification', 'open', plus(s5, 2), plus(s5, WINDOW_S));
  // S6 (B, minor): cancelled after 5 minutes, never contained; its task cancelled with it.
  const s6 = '2003-02-10T00:00:00Z';
  await deviation({
    n: 6,
    line: LINE_B,
    severity: 'minor',
    stage: 'cancelled',
    status: 'cancelled',
    detectedAt: s6,
    updatedAt: plus(s6, 300),
  });
  await task(6, 1, 'containment_verification', 'cancelled', plus(s6, 2), plus(s6, WINDOW_S));
  // S7 (A, major): detected in 2002, in CAPA; its plan approval, due 15 Mar, signed only in May.
  await deviation({
    n: 7,
    line: LINE_A,
    severity: 'major',
    stage: 'capa',
    status: 'open',
    detectedAt: '2002-12-20T00:00:00Z',
    updatedAt: at('2003-05-12T00:00:00Z'),
  });
  const s7plan = await task(7, 4, 'capa_plan_approval', 'signed', at('2003-02-25T00:00:00Z'), at('2003-03-15T00:00:00Z'));
  await signature(7, s7plan, 'approved', at('2003-05-10T00:00:00Z'));
  // S8 (B, critical): detected in 2002, its first check met on 25 Mar, closed in May.
  await deviation({
    n: 8,
    line: LINE_B,
    severity: 'critical',
    stage: 'closed',
    status: 'closed',
    detectedAt: '2002-11-01T00:00:00Z',
    updatedAt: at('2003-05-01T00:00:00Z'),
  });
  await task(8, 5, 'effectiveness_verification', 'signed', at('2003-03-25T00:00:00Z'), at('2003-03-26T00:00:00Z'));
  // S9 (A, major): all of it in 2002.
  await deviation({
    n: 9,
    line: LINE_A,
    severity: 'major',
    stage: 'closed',
    status: 'closed',
    detectedAt: '2002-10-01T00:00:00Z',
    updatedAt: at('2002-12-01T00:00:00Z'),
  });
  await task(9, 5, 'effectiveness_verification', 'signed', at('2002-11-15T00:00:00Z'), at('2002-11-16T00:00:00Z'));
  // S10 (C, major): contained in 45 s (late), in investigation.
  await deviation({
    n: 10,
    line: LINE_C,
    severity: 'major',
    stage: 'investigation',
    status: 'open',
    detectedAt: '2003-01-20T00:00:00Z',
    updatedAt: at('2003-01-20T01:00:00Z'),
  });
  await containmentConfirmed(10, '2003-01-20T00:00:00Z', 45);

  // Batches. Line A: B1 reconciled in January and again in February (the February counts count, in January);
  // B2 in January; B3 in February; B6 at the end of March, and again after the window (not counted).
  await batch(LINE_A, [
    ['2003-01-05T00:00:00Z', 1000, { duplicate_serial: 2, aggregation_error: 1 }],
    ['2003-02-03T00:00:00Z', 1000, { duplicate_serial: 1 }],
  ]);
  await batch(LINE_A, [['2003-01-20T00:00:00Z', 500, { aggregation_error: 3, missing_report: 1 }]]);
  await batch(LINE_A, [['2003-02-14T00:00:00Z', 2000, { lost_packaging: 4 }]]);
  // Line B: B4 commissioned nothing; B5 was first reconciled in December 2002 (outside the window).
  await batch(LINE_B, [['2003-03-03T00:00:00Z', 0, {}]]);
  await batch(LINE_B, [
    ['2002-12-28T00:00:00Z', 700, { unaccounted: 7 }],
    ['2003-01-02T00:00:00Z', 700, { unaccounted: 5 }],
  ]);
  await batch(LINE_A, [
    ['2003-03-30T00:00:00Z', 800, { duplicate_serial: 8 }],
    ['2003-04-02T00:00:00Z', 800, {}],
  ]);
  // A batch no line names is on no line's trend.
  await batch(null, [['2003-02-01T00:00:00Z', 100, { duplicate_serial: 100 }]]);
}

const Q1 = { from: '2003-01-01T00:00:00Z', to: '2003-04-01T00:00:00Z' };
const zeroCounts = { duplicate_serial: 0, aggregation_error: 0, missing_report: 0, lost_packaging: 0, unaccounted: 0 };
const counts = (c: Partial<typeof zeroCounts>) => ({ ...zeroCounts, ...c });
const rates = (commissioned: number, c: Partial<typeof zeroCounts>) =>
  Object.fromEntries(Object.entries(counts(c)).map(([k, v]) => [k, commissioned ? v / commissioned : null]));
const lineA2003 = [
  // B1: its latest report (February) in the month of its first (January), with B2.
  {
    line: LINE_A,
    month: '2003-01',
    batches: 2,
    commissioned: 1000 + 500,
    discrepancies: counts({ duplicate_serial: 1, aggregation_error: 3, missing_report: 1 }),
    rates: rates(1500, { duplicate_serial: 1, aggregation_error: 3, missing_report: 1 }),
  },
  {
    line: LINE_A,
    month: '2003-02',
    batches: 1,
    commissioned: 2000,
    discrepancies: counts({ lost_packaging: 4 }),
    rates: rates(2000, { lost_packaging: 4 }),
  },
  // B6: the report of 30 March; the one of 2 April is after `to`.
  {
    line: LINE_A,
    month: '2003-03',
    batches: 1,
    commissioned: 800,
    discrepancies: counts({ duplicate_serial: 8 }),
    rates: rates(800, { duplicate_serial: 8 }),
  },
];
const lineB2003 = [{ line: LINE_B, month: '2003-03', batches: 1, commissioned: 0, discrepancies: counts({}), rates: rates(0, {}) }];

describe('GET /kpis over a window of 2003', () => {
  it('computes every KPI over all lines', async () => {
    const k = await kpis(Q1);
    expect(k.window).toEqual({ from: '2003-01-01T00:00:00.000Z', to: '2003-04-01T00:00:00.000Z', line: null, site: null, siteLines: null });
    // Open at 1 April: S3, S4, S5, S10 (stage unchanged since), S7 and S8 (changed since: S7 in May, S8 closed in May).
    expect(k.openDeviations).toEqual({
      total: 6,
      byStage: { investigation: 2, containment: 2 },
      stageChangedSince: 2,
      bySeverity: { critical: 1, major: 4, minor: 1 },
    });
    // Detected in the window: S1 S2 S3 S4 S5 S6 S10. Judged: S1 (12 s), S2 (30 s), S3 (8 s), S10 (45 s), S4 (never,
    // its window over); not S5 (window still running) nor S6 (cancelled). On time: S1, S3.
    // Times 8, 12, 30, 45 s: the median between the 2nd and 3rd; the 90th percentile (interpolated, as
    // PostgreSQL's percentile_cont) at 0.9 × (4 − 1) = 2.7, 0.7 of the way from the 3rd to the 4th.
    expect(k.containment).toEqual({
      windowSeconds: { critical: WINDOW_S, major: WINDOW_S, minor: WINDOW_S },
      onTime: { count: 2, of: 5, rate: 2 / 5 },
      timeToContainment: { count: 4, medianSeconds: (12 + 30) / 2, p90Seconds: expect.closeTo(30 + 0.7 * (45 - 30)) },
    });
    // Closed in the window: S1 after 5 days, S2 after 20; the target 10 days.
    expect(k.closure.targetSeconds).toBe(10 * DAY_S);
    expect(k.closure.withinTarget).toEqual({ count: 1, of: 2, rate: 1 / 2 });
    expect(k.closure.timeToClosure.count).toBe(2);
    expect(k.closure.timeToClosure.medianSeconds).toBeCloseTo(((5 + 20) / 2) * DAY_S);
    expect(k.closure.timeToClosure.p90Seconds).toBeCloseTo((5 + 0.9 * (20 - 5)) * DAY_S);
    // Open and past due at 1 April: S3's investigation approval, S4's containment task, S7's plan approval (signed in May).
    expect(k.overdueSignoffs).toEqual({
      total: 3,
      byGate: { investigation_approval: 1, containment_verification: 1, capa_plan_approval: 1 },
    });
    // First judgements in the window: S1 met, S2 not met (the not-met came before its verification task), S8 met.
    expect(k.capaEffectiveness).toEqual({ count: 2, of: 3, rate: 2 / 3 });
    // Of the 7 detected: S2 and S4 recur.
    expect(k.recurrence).toEqual({ count: 2, of: 7, rate: 2 / 7 });
    expect(k.detection).toEqual({ total: 7, automated: 2, manual: 5, bySource: { manual: 5, spc: 1, reconciliation: 1 } });
    expect(k.discrepancyRates).toEqual([...lineA2003, ...lineB2003]);
  });

  it('narrows every KPI to one line', async () => {
    const k = await kpis({ ...Q1, line: LINE_A });
    // Line A: S1 S2 S5 S7 S9.
    expect(k.openDeviations).toEqual({
      total: 2,
      byStage: { containment: 1 },
      stageChangedSince: 1,
      bySeverity: { critical: 0, major: 2, minor: 0 },
    });
    expect(k.containment.onTime).toEqual({ count: 1, of: 2, rate: 1 / 2 });
    // Two times, 12 and 30 s: the 90th percentile at 0.9 × (2 − 1), 0.9 of the way from 12 to 30.
    expect(k.containment.timeToContainment).toEqual({
      count: 2,
      medianSeconds: (12 + 30) / 2,
      p90Seconds: expect.closeTo(12 + 0.9 * (30 - 12)),
    });
    expect(k.closure.withinTarget).toEqual({ count: 1, of: 2, rate: 1 / 2 });
    expect(k.overdueSignoffs).toEqual({ total: 1, byGate: { capa_plan_approval: 1 } });
    expect(k.capaEffectiveness).toEqual({ count: 1, of: 2, rate: 1 / 2 });
    expect(k.recurrence).toEqual({ count: 1, of: 3, rate: 1 / 3 });
    expect(k.detection).toEqual({ total: 3, automated: 1, manual: 2, bySource: { manual: 2, spc: 1 } });
    expect(k.discrepancyRates).toEqual(lineA2003);
  });

  it("narrows every KPI to a site's lines", async () => {
    const k = await kpis({ ...Q1, site: SOUTH });
    expect(k.window).toMatchObject({ site: SOUTH, siteLines: [LINE_B] });
    // South is line B: S3 S4 S6 S8.
    expect(k.openDeviations).toEqual({
      total: 3,
      byStage: { investigation: 1, containment: 1 },
      stageChangedSince: 1,
      bySeverity: { critical: 1, major: 1, minor: 1 },
    });
    expect(k.containment.onTime).toEqual({ count: 1, of: 2, rate: 1 / 2 });
    expect(k.containment.timeToContainment).toEqual({ count: 1, medianSeconds: 8, p90Seconds: 8 });
    expect(k.closure).toEqual({
      targetSeconds: 10 * DAY_S,
      timeToClosure: { count: 0, medianSeconds: null, p90Seconds: null },
      withinTarget: { count: 0, of: 0, rate: null },
    });
    expect(k.overdueSignoffs).toEqual({ total: 2, byGate: { investigation_approval: 1, containment_verification: 1 } });
    expect(k.capaEffectiveness).toEqual({ count: 1, of: 1, rate: 1 });
    expect(k.recurrence).toEqual({ count: 1, of: 3, rate: 1 / 3 });
    expect(k.detection).toEqual({ total: 3, automated: 1, manual: 2, bySource: { manual: 2, reconciliation: 1 } });
    expect(k.discrepancyRates).toEqual(lineB2003);
    // A line and a site it is not on: nothing.
    expect((await kpis({ ...Q1, site: SOUTH, line: LINE_A })).detection.total).toBe(0);
  });

  it('moves with the window: February on line A', async () => {
    const k = await kpis({ from: '2003-02-01T00:00:00Z', to: '2003-03-01T00:00:00Z', line: LINE_A });
    // Open at 1 March: S7 only (S1 and S2 closed before, S5 not detected yet), in CAPA since May: changed since.
    expect(k.openDeviations).toEqual({ total: 1, byStage: {}, stageChangedSince: 1, bySeverity: { critical: 0, major: 1, minor: 0 } });
    expect(k.containment.onTime).toEqual({ count: 0, of: 1, rate: 0 });
    expect(k.containment.timeToContainment).toEqual({ count: 1, medianSeconds: 30, p90Seconds: 30 });
    expect(k.closure.timeToClosure).toEqual({ count: 1, medianSeconds: 20 * DAY_S, p90Seconds: 20 * DAY_S });
    expect(k.closure.withinTarget).toEqual({ count: 0, of: 1, rate: 0 });
    // S7's plan approval is due 15 March: not overdue on 1 March.
    expect(k.overdueSignoffs).toEqual({ total: 0, byGate: {} });
    expect(k.capaEffectiveness).toEqual({ count: 0, of: 1, rate: 0 });
    expect(k.recurrence).toEqual({ count: 1, of: 1, rate: 1 });
    expect(k.detection).toEqual({ total: 1, automated: 1, manual: 0, bySource: { spc: 1 } });
    // B3 only: B1's February report counts in January, the month of its first.
    expect(k.discrepancyRates).toEqual([lineA2003[1]]);
  });

  it("counts the read model's source: a monitor's deviation is automated", async () => {
    const line = `KPI-${tag}-S`;
    const snapshot: DeviationSnapshot & { source: string } = {
      id: devId(99),
      title: 'Aggregation errors above the threshold',
      symptom: 'aggregation_error',
      severity: 'major',
      stage: 'detection',
      status: 'open',
      batches: [`K${tag}S`],
      lines: [line],
      gtins: [],
      reportedBy: 'monitoring',
      detectedAt: '2003-06-15T00:00:00.000Z',
      updatedAt: '2003-06-15T00:00:00.000Z',
      version: 1,
      slaBreached: false,
      overdue: false,
      nextDueAt: null,
      summary: { recurrences: [] },
      tasks: [],
      source: 'reconciliation',
    };
    await createReadModelActivities(stack.pool).recordDeviationSnapshot(snapshot);
    const k = await kpis({ from: '2003-06-01T00:00:00Z', to: '2003-07-01T00:00:00Z', line });
    expect(k.detection).toEqual({ total: 1, automated: 1, manual: 0, bySource: { reconciliation: 1 } });
  });
});

// --- Deviations run through the workflow now -------------------------------------------------------

describe('GET /kpis over deviations the workflow ran', () => {
  const line = `KPI-${tag}-L`;
  // The API answers JSON, loosely typed on purpose.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const stateOf = async (id: string): Promise<Record<string, any>> =>
    (await request(stack.app).get(`/deviations/${id}`).set(as(cast.auditor)).expect(200)).body.deviation;
  const open = async (severity: 'major' | 'minor') =>
    (
      await request(stack.app)
        .post('/deviations')
        .set(as(cast.qaLead))
        .send(newDeviationRequest({ severity, lines: [line] }))
        .expect(201)
    ).body.id as string;
  const confirmContainment = async (id: string) => {
    const task = await eventually(async () => {
      const inbox = await request(stack.app)
        .get('/tasks')
        .query({ deviation: id, gate: 'containment_verification', scope: 'all' })
        .set(as(cast.auditor))
        .expect(200);
      return inbox.body.items[0];
    });
    expect((await sign(stack.app, cast.qaLead, task.id, 'verified')).status).toBe(201);
  };
  const inReadModel = (id: string, done: (row: { stage: string; sla_breached: boolean }) => boolean) =>
    eventually(async () => {
      const { rows } = await stack.pool.query('SELECT stage, sla_breached FROM deviations WHERE id = $1', [id]);
      return rows[0] && done(rows[0]) ? rows[0] : undefined;
    }, 60_000);

  it('counts containment, recurrence and overdue sign-offs as the workflow recorded them', async () => {
    // R1 contained at once; R2 (a recurrence of R1: the same line) contained after its window; R3 never.
    const r1 = await open('major');
    await confirmContainment(r1);
    await inReadModel(r1, (r) => r.stage === 'investigation');
    const r2 = await open('major');
    const r3 = await open('minor');
    await inReadModel(r2, (r) => r.sla_breached);
    await inReadModel(r3, (r) => r.sla_breached);
    await confirmContainment(r2);
    await inReadModel(r2, (r) => r.stage === 'investigation');

    const [s1, s2, s3] = [await stateOf(r1), await stateOf(r2), await stateOf(r3)];
    expect(s2.recurrences.map((r: { id: string }) => r.id)).toContain(r1);
    const took = [s1, s2]
      .map((s) => (Date.parse(s.containment.confirmation.signature.signedAt) - Date.parse(s.detectedAt)) / 1000)
      .sort((a, b) => a - b);
    expect(took[1]).toBeGreaterThan(WINDOW_S); // R2, confirmed after its window

    const k = await kpis({ line });
    expect(k.openDeviations).toEqual({
      total: 3,
      byStage: { investigation: 2, containment: 1 },
      stageChangedSince: 0,
      bySeverity: { critical: 0, major: 2, minor: 1 },
    });
    // Judged: all three (R3's window is over); on time: those confirmed within 20 s.
    const onTime = took.filter((t) => t <= WINDOW_S).length;
    expect(k.containment.onTime).toEqual({ count: onTime, of: 3, rate: onTime / 3 });
    expect(k.containment.timeToContainment.count).toBe(2);
    expect(k.containment.timeToContainment.medianSeconds).toBeCloseTo((took[0]! + took[1]!) / 2, 3);
    expect(k.containment.timeToContainment.p90Seconds).toBeCloseTo(took[0]! + 0.9 * (took[1]! - took[0]!), 3);
    // R3's containment task is open past its due date.
    expect(k.overdueSignoffs).toEqual({ total: 1, byGate: { containment_verification: 1 } });
    // R2 recurs (R1 on its line); R1 and R3 recur when the database holds an earlier deviation of their symptom.
    const recurring = [s1, s2, s3].filter((s) => s.recurrences.length > 0).length;
    expect(k.recurrence).toEqual({ count: recurring, of: 3, rate: recurring / 3 });
    expect(k.detection).toEqual({ total: 3, automated: 0, manual: 3, bySource: { manual: 3 } });
    expect(k.closure.timeToClosure.count).toBe(0);
  }, 120_000);
});

describe('GET /kpis refuses a bad query', () => {
  it.each([
    ['from after to', { from: '2003-04-01T00:00:00Z', to: '2003-01-01T00:00:00Z' }, 'from'],
    ['from equal to to', { from: '2003-04-01T00:00:00Z', to: '2003-04-01T00:00:00Z' }, 'from'],
    ['from in the future with no to', { from: '2999-01-01T00:00:00Z' }, 'from'],
    ['a date without a time', { from: '2003-01-01' }, 'from'],
    ['not a date', { to: 'yesterday' }, 'to'],
    ['an empty line', { line: ' ' }, 'line'],
    ['two lines', { line: [LINE_A, LINE_B] }, 'line'],
    ['a site the policy does not name', { site: 'Atlantis' }, 'site'],
    ['an unknown parameter', { lines: LINE_A }, '(body)'],
  ])('%s: 400 problem+json naming the parameter', async (_what, query, path) => {
    const res = await request(stack.app).get('/kpis').set(as(cast.auditor)).query(query).expect(400);
    expect(res.type).toBe('application/problem+json');
    expect(res.body).toMatchObject({ status: 400, title: 'Bad Request' });
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
  });

  it('answers readers only', async () => {
    await request(stack.app).get('/kpis').expect(401);
  });
});

describe('the policy behind the KPIs', () => {
  it('defaults the closure target and the sites, and keeps a line on one site', () => {
    const compressed = compressedPolicy();
    expect(compressed.closureTarget).toBe('90 days');
    expect(compressed.sites).toEqual({});
    const refused = policySchema.safeParse({ ...compressed, sites: { North: ['L1'], South: ['L1'] } });
    expect(refused.success).toBe(false);
    expect(refused.error?.issues[0]?.path).toEqual(['sites', 'South']);
  });
});
