import { randomBytes, randomInt } from 'node:crypto';
import request from 'supertest';
import { PRODUCTION_POLICY } from '../../domain/policy';
import { chartIdOf, ensureCharts, newViolations } from '../../monitoring/charts';
import { SPC_ROUTES } from '../../api/routes/spc';
import { startStack, type TestStack } from '../helpers/stack';
import { bearer, signedInUser, type TestUser } from '../helpers/users';

/**
 * A packaging line's aggregation error chart, from its first points to phase II: the baseline and a
 * rule change signed with re-authentication, and a point out of control found on the chart.
 *
 * The points are written straight into batch_metrics, as reconciliation would write them
 * (reconciliation/reconcile.ts recordBatchMetrics): reconciling real batches of 100,000 units, 34
 * times over, would take minutes and add nothing to what is tested here. Each point gets its batch
 * and a minimal reconciliation_reports row (batch_metrics.report_id references it), and a place in
 * the series one minute after the one before.
 */
const monitoring = PRODUCTION_POLICY.monitoring; // baselinePoints 25, aggregation_error charted
const N = 100_000;
/** Around 5 per 10,000; the 25th point on the centre line, so a run after the baseline starts with the new points. */
const BASELINE_COUNTS = Array.from({ length: 25 }, (_, i) => 50 + [-6, 6, -3, 3, 0][i % 5]!);

let stack: TestStack;
let qaHead: TestUser & { token: string };
let approver: TestUser & { token: string };
let auditor: TestUser & { token: string };
let production: TestUser & { token: string };
const line = `L-SPC-${randomBytes(3).toString('hex')}`;
const gtin = `0950600${String(randomInt(0, 10_000_000)).padStart(7, '0')}`;
const chartId = chartIdOf(line, null, 'aggregation_error');
const productChartId = chartIdOf(line, gtin, 'aggregation_error');
const path = `/spc/charts/${encodeURIComponent(chartId)}`;
const t0 = Date.parse('2026-01-05T06:00:00Z');
/** Batch IDs in series order. */
const batches: string[] = [];

async function addPoint(aggregationErrors: number, n = N): Promise<string> {
  const lot = `S${randomBytes(4).toString('hex')}`;
  const { rows } = await stack.pool.query<{ id: string }>(
    `INSERT INTO batches (gtin, lot, line, status) VALUES ($1, $2, $3, 'released') RETURNING id::text`,
    [gtin, lot, line],
  );
  const batchId = rows[0]!.id;
  const reportId = `REC-${lot}`;
  const hash = randomBytes(32).toString('hex');
  await stack.pool.query(
    `INSERT INTO reconciliation_reports (id, batch_id, lot, gtin, content_hash, summary) VALUES ($1, $2, $3, $4, $5, '{}')`,
    [reportId, batchId, lot, gtin, hash],
  );
  const at = new Date(t0 + batches.length * 60_000);
  await stack.pool.query(
    `INSERT INTO batch_metrics (batch_id, line, gtin, lot, report_id, content_hash, commissioned, packed, rejected, sampled, destroyed,
                                unaccounted_units, duplicate_serial, aggregation_error, missing_report, lost_packaging, unaccounted,
                                first_recorded_at, recorded_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 0, 0, 0, 0, 0, $8, 0, 0, 0, $9, $9)`,
    [batchId, line, gtin, lot, reportId, hash, n, aggregationErrors, at],
  );
  batches.push(batchId);
  // What the monitoring workflow's activity does for each new point.
  await ensureCharts(stack.pool, { line, gtin }, monitoring);
  return batchId;
}

const signBody = (user: TestUser, extra: Record<string, unknown> = {}) => ({
  meaning: 'approved',
  login: user.login,
  password: user.password,
  ...extra,
});

const changeRules = (user: TestUser & { token: string }, body: Record<string, unknown>) =>
  request(stack.app)[SPC_ROUTES.changeRules.method](`${path}/rules`).set(bearer(user.token)).send(body);

const chart = async () => (await request(stack.app).get(path).set(bearer(qaHead.token)).expect(200)).body;

beforeAll(async () => {
  stack = await startStack({ worker: false });
  const signIn = (role: 'qa_head' | 'qa_approver' | 'auditor' | 'production') => signedInUser(stack.app, stack.pool, { roles: [role] });
  [qaHead, approver, auditor, production] = await Promise.all([
    signIn('qa_head'),
    signIn('qa_approver'),
    signIn('auditor'),
    signIn('production'),
  ]);
});
afterAll(async () => {
  await stack.stop();
});

describe('a control chart from phase I to phase II', () => {
  it('is created with the first point of a watched line, per line and per line × product, and collects', async () => {
    for (const count of BASELINE_COUNTS.slice(0, 24)) await addPoint(count);
    const list = (
      await request(stack.app).get('/spc/charts').query({ line, metric: 'aggregation_error' }).set(bearer(auditor.token)).expect(200)
    ).body.items;
    expect(list.map((c: { id: string }) => c.id)).toEqual([chartId, productChartId]);
    expect(list[0]).toMatchObject({ status: 'collecting', kind: null, pointCount: 24, measure: 'rate', approval: null });
    const all = (await request(stack.app).get('/spc/charts').query({ line }).set(bearer(auditor.token)).expect(200)).body.items;
    expect(all).toHaveLength(monitoring.chartedMetrics.length * 2);

    // Too few points: refused before the password is asked for (none is spent), with computeBaseline's reason.
    const early = await request(stack.app).post(`${path}/baseline`).set(bearer(qaHead.token)).send(signBody(qaHead)).expect(409);
    expect(early.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(early.body.detail).toMatch(/24 baseline point\(s\) with units inspected; 25 needed/);
  });

  it('is ready with 25 points, and shows a provisional phase I picture that judges nothing', async () => {
    await addPoint(BASELINE_COUNTS[24]!);
    const detail = await chart();
    expect(detail).toMatchObject({ status: 'ready', phase: 'I', provisional: true, violations: [], limitsProblem: null });
    expect(detail.points).toHaveLength(25);
    expect(detail.limitsFrom.centre).toBeCloseTo(5e-4, 10);
    expect(detail.points[0]).toMatchObject({ batchId: batches[0], n: N, count: 44, inBaseline: false });
    expect(detail.points[0].ucl).toBeGreaterThan(detail.points[0].centre);
  });

  it('refuses an approval with a wrong password: 401, nothing changed, the failure counted toward the signing lock', async () => {
    const res = await request(stack.app)
      .post(`${path}/baseline`)
      .set(bearer(qaHead.token))
      .send(signBody(qaHead, { password: `${qaHead.password}-wrong` }))
      .expect(401);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    const detail = await chart();
    expect(detail).toMatchObject({ status: 'ready', approval: null, changes: [] });
    const failures = await stack.pool.query(`SELECT detail FROM security_log WHERE user_id = $1 AND event = 'signature_reauth_failed'`, [
      qaHead.id,
    ]);
    expect(failures.rows).toEqual([{ detail: expect.objectContaining({ reason: 'wrong_password', taskId: `${chartId}.baseline` }) }]);
    expect((await stack.pool.query('SELECT 1 FROM signature_ledger WHERE deviation_id = $1', [chartId])).rowCount).toBe(0);
  });

  it('lets an auditor read the chart, but neither approve it nor change its rules', async () => {
    await request(stack.app).get(path).set(bearer(auditor.token)).expect(200);
    await request(stack.app).get(`${path}/svg`).set(bearer(auditor.token)).expect(200);
    await request(stack.app).post(`${path}/baseline`).set(bearer(auditor.token)).send(signBody(auditor)).expect(403);
    await changeRules(auditor, signBody(auditor, { rules: {}, reason: 'try' })).expect(403);
    await request(stack.app).post(`${path}/baseline`).set(bearer(production.token)).send(signBody(production)).expect(403);
    await request(stack.app).get(path).expect(401);
  });

  it('answers bad input with a 400 problem and an unknown chart with a 404, changing nothing', async () => {
    const post = (body: Record<string, unknown>) => request(stack.app).post(`${path}/baseline`).set(bearer(qaHead.token)).send(body);
    expect((await post({ ...signBody(qaHead), meaning: 'reviewed' }).expect(400)).body.errors).toEqual([
      expect.objectContaining({ path: 'meaning' }),
    ]);
    await post({ ...signBody(qaHead), batches: [batches[0], batches[1]], window: { from: batches[0], to: batches[1] } }).expect(400);
    await post({ ...signBody(qaHead), batches: ['1', 'x'] }).expect(400);
    // A batch that is no point of this chart (checked before the password).
    const other = await post({ ...signBody(qaHead), batches: [batches[0], '999999999999'] }).expect(400);
    expect(other.body.detail).toMatch(/999999999999 are not points of this chart/);
    await changeRules(qaHead, signBody(qaHead, { rules: { beyond_limit: { sigma: -1 } }, reason: 'wider' })).expect(400);
    await changeRules(qaHead, signBody(qaHead, { rules: {} })).expect(400); // no reason
    await request(stack.app).get('/spc/charts/L0.ALL.nothing').set(bearer(qaHead.token)).expect(404);
    await request(stack.app).post('/spc/charts/L0.ALL.nothing/baseline').set(bearer(qaHead.token)).send(signBody(qaHead)).expect(404);
    expect((await chart()).status).toBe('ready');
  });

  it('approves the baseline by electronic signature: frozen, with its ledger, audit and change rows', async () => {
    const res = await request(stack.app)
      .post(`${path}/baseline`)
      .set(bearer(qaHead.token))
      .send(signBody(qaHead, { comment: 'First 25 batches after the line upgrade; no assignable cause found.' }))
      .expect(201);
    const { chart: approved, change } = res.body;
    expect(approved).toMatchObject({ status: 'approved', kind: expect.stringMatching(/^(laney_u|u)$/) });
    expect(approved.approval).toMatchObject({
      batches: batches.slice(0, 25),
      approvedBy: { login: qaHead.login, printedName: qaHead.printedName },
      ledgerId: change.ledgerId,
    });
    expect(approved.approval.baseline.centre).toBeCloseTo(5e-4, 10);
    expect(change).toMatchObject({ seq: 1, kind: 'baseline_approved', meaning: 'approved', signer: { login: qaHead.login } });

    const ledger = await stack.pool.query(
      'SELECT id::text, task_id, deviation_id, signer_id, meaning, record_hash, comment FROM signature_ledger WHERE deviation_id = $1',
      [chartId],
    );
    expect(ledger.rows).toEqual([
      {
        id: change.ledgerId,
        task_id: `${chartId}.C1`,
        deviation_id: chartId,
        signer_id: qaHead.id,
        meaning: 'approved',
        record_hash: change.recordHash,
        comment: 'First 25 batches after the line upgrade; no assignable cause found.',
      },
    ]);
    const audit = await stack.pool.query(
      `SELECT action, actor, after FROM audit_trail WHERE entity_id = $1 AND action = 'spc_chart.baseline_approved'`,
      [chartId],
    );
    expect(audit.rows).toEqual([
      { action: 'spc_chart.baseline_approved', actor: qaHead.login, after: expect.objectContaining({ status: 'approved' }) },
    ]);
    const signed = await stack.pool.query(`SELECT 1 FROM audit_trail WHERE action = 'signature.signed' AND entity_id = $1`, [
      `${chartId}.C1`,
    ]);
    expect(signed.rowCount).toBe(1);
    const changes = await stack.pool.query('SELECT kind, signer_id, ledger_id::text FROM spc_chart_changes WHERE chart_id = $1', [chartId]);
    expect(changes.rows).toEqual([{ kind: 'baseline_approved', signer_id: qaHead.id, ledger_id: change.ledgerId }]);
    expect((await request(stack.app).get('/signatures/verify').set(bearer(qaHead.token)).expect(200)).body.ok).toBe(true);

    // The approval succeeded: the failures before it no longer count toward a lock.
    const again = await request(stack.app).post(`${path}/baseline`).set(bearer(approver.token)).send(signBody(approver)).expect(409);
    expect(again.body.detail).toMatch(/already|frozen/i);
    // The change record cannot be rewritten.
    await expect(stack.pool.query('UPDATE spc_chart_changes SET reason = $1 WHERE chart_id = $2', ['edited', chartId])).rejects.toThrow(
      /append-only/,
    );
  });

  let shiftEnd: string;
  let outOfControl: string;

  it('judges new points in phase II: a run above the centre line, then a point beyond the limit', async () => {
    for (let i = 0; i < 8; i++) shiftEnd = await addPoint(56);
    outOfControl = await addPoint(200);
    const detail = await chart();
    expect(detail).toMatchObject({ phase: 'II', provisional: false });
    expect(detail.points.filter((p: { inBaseline: boolean }) => p.inBaseline)).toHaveLength(25);
    const run = detail.violations.find((v: { rule: string }) => v.rule === 'same_side_run');
    expect(run).toMatchObject({
      index: 32,
      batchId: shiftEnd,
      ruleNumber: 4,
      description: '8 points in a row on the same side of the centre line',
    });
    expect(run.points.map((p: { batchId: string }) => p.batchId)).toEqual(batches.slice(25, 33));
    const beyond = detail.violations.filter((v: { rule: string }) => v.rule === 'beyond_limit');
    expect(beyond).toEqual([
      {
        rule: 'beyond_limit',
        ruleNumber: 1,
        description: '1 point beyond 3σ',
        side: 'above',
        index: 33,
        batchId: outOfControl,
        lot: detail.points[33].lot,
        points: [{ index: 33, batchId: outOfControl, lot: detail.points[33].lot }],
        // no line monitor judged these points (they were written straight), so no deviation is named
        deviationId: null,
      },
    ]);
    expect(detail.points[33].value).toBeGreaterThan(detail.points[33].ucl);
    expect(detail.points[33].z).toBeGreaterThan(3);

    // newViolations answers, for the new point, exactly what the chart shows completed there (before any deviation is raised).
    const asJudged = ({ deviationId: _deviationId, ...v }: { deviationId: string | null }) => v;
    const atPoint = await newViolations(stack.pool, chartId, outOfControl);
    expect(atPoint).toEqual(detail.violations.filter((v: { index: number }) => v.index === 33).map(asJudged));
    expect(atPoint.map((v) => v.rule).sort()).toEqual(['beyond_limit', 'same_side_run']);
    expect(await newViolations(stack.pool, chartId, shiftEnd)).toEqual([asJudged(run)]);
    // Nothing for a baseline batch, a batch of another chart, or a chart still in phase I.
    expect(await newViolations(stack.pool, chartId, batches[3]!)).toEqual([]);
    expect(await newViolations(stack.pool, chartIdOf(line, null, 'duplicate_serial'), outOfControl)).toEqual([]);
    expect(await newViolations(stack.pool, 'L0.ALL.nothing', outOfControl)).toEqual([]);
  });

  it('draws the chart as SVG, the violation marked', async () => {
    const res = await request(stack.app).get(`${path}/svg`).set(bearer(qaHead.token)).expect(200);
    expect(res.headers['content-type']).toMatch(/^image\/svg\+xml/);
    const svg = res.text ?? res.body.toString('utf8');
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg).toContain('<g class="violation" fill="#c92a2a">');
    expect(svg).toContain(`rule 1 (1 point beyond 3σ) at ${(await chart()).points[33].lot}`);
    expect(svg).toContain('class="baseline"');
    expect(svg).not.toContain('<script');
  });

  it('changes the rules by electronic signature, effective at once: the run no longer counts', async () => {
    const before = await chart();
    const rules = { ...before.rules, same_side_run: { ...before.rules.same_side_run, enabled: false } };
    const reason = 'Runs follow the planned material lot changes on this line (CC-2026-014); judged by rules 1–3 only.';
    await changeRules(qaHead, signBody(qaHead, { rules, reason, password: 'not it' })).expect(401);
    const res = await changeRules(approver, signBody(approver, { rules, reason })).expect(201);
    expect(res.body.change).toMatchObject({
      seq: 2,
      kind: 'rules_changed',
      signer: { login: approver.login },
      before: { rules: before.rules },
      after: { rules },
      reason,
    });

    const after = await chart();
    expect(after.rules.same_side_run.enabled).toBe(false);
    expect(after.violations.map((v: { rule: string }) => v.rule)).toEqual(['beyond_limit']);
    expect(await newViolations(stack.pool, chartId, shiftEnd)).toEqual([]);
    expect(after.changes.map((c: { kind: string }) => c.kind)).toEqual(['baseline_approved', 'rules_changed']);
    const ledger = await stack.pool.query('SELECT task_id, signer_id, comment FROM signature_ledger WHERE deviation_id = $1 ORDER BY id', [
      chartId,
    ]);
    expect(ledger.rows[1]).toEqual({ task_id: `${chartId}.C2`, signer_id: approver.id, comment: reason });
    const audit = await stack.pool.query(
      `SELECT before, after, reason FROM audit_trail WHERE entity_id = $1 AND action = 'spc_chart.rules_changed'`,
      [chartId],
    );
    expect(audit.rows).toEqual([{ before: { rules: before.rules }, after: { rules }, reason }]);

    // The same rules again change nothing: refused before any password is asked for.
    await changeRules(approver, signBody(approver, { rules, reason })).expect(409);
  });

  it('leaves the other charts of the line in phase I', async () => {
    const product = (await request(stack.app).get(`/spc/charts/${productChartId}`).set(bearer(qaHead.token)).expect(200)).body;
    expect(product).toMatchObject({ status: 'ready', phase: 'I', violations: [] });
    expect(product.points).toHaveLength(34);
  });
});
