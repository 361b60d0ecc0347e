import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { DEFAULT_CONFIG, PLANT_KINDS, type GeneratorConfig } from '../../lib/generator/plan';
import { generateBatch, type Manifest } from '../../lib/generator/write';
import { createReconciliationActivities } from '../../activities/reconciliation';
import { sendGeneratedBatch } from '../helpers/generated-batch';
import { startStack, testConfig, type TestStack } from '../helpers/stack';
import { CAPTURE_KEY } from '../epcis/helpers';

/**
 * A generated batch with every kind of discrepancy planted (and rejected, sampled and destroyed
 * units as ordinary outcomes) goes in through the API; reconciliation must find exactly what was
 * planted — no more, no fewer — and the balance the generator expects.
 */
let stack: TestStack;
let dir: string;
let manifest: Manifest;

const SEED = 7;
const LOT = `LOT-T${Date.now().toString(36).toUpperCase().slice(-6)}`;

beforeAll(async () => {
  stack = await startStack({ worker: false, config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY }) });
  dir = mkdtempSync(path.join(tmpdir(), 'recon-'));
  const config: GeneratorConfig = {
    ...DEFAULT_CONFIG,
    seed: SEED,
    units: 2000,
    unitsPerCase: 20,
    casesPerPallet: 10,
    lot: LOT,
    eventsPerDocument: 80,
    plants: Object.fromEntries(PLANT_KINDS.map((k, i) => [k, 1 + (i % 3)])),
    outcomes: { rejected: 3, sampled: 2, destroyed: 4 },
  };
  manifest = await generateBatch(config, dir);
  await sendGeneratedBatch(stack.app, dir, manifest, CAPTURE_KEY);
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await stack.stop();
});

type Finding = { category: string; kind: string; serial: string | null; gtin: string | null; ssccs: string[] | null };
const key = (f: { category: string; kind: string; serial?: string | null; ssccs?: string[] | null }) =>
  `${f.category}|${f.kind.replace('duplicate_serial_other_batch', 'duplicate_serial')}|${f.serial ?? ''}|${(f.ssccs ?? []).join(',')}`;

describe('reconciliation of a batch with planted discrepancies', () => {
  it('finds exactly the planted discrepancies and the expected balance', async () => {
    const res = await request(stack.app).post(`/batches/${LOT}/reconciliation`).set('X-API-Key', CAPTURE_KEY).expect(201);
    expect(res.body.balance).toEqual(manifest.balance);
    const b = res.body.balance;
    expect(b.commissioned).toBe(b.packed + b.rejected + b.sampled + b.destroyed + b.unaccounted);
    expect(res.body.discrepancies).toEqual({
      duplicate_serial: 0,
      aggregation_error: 0,
      missing_report: 0,
      lost_packaging: 0,
      unaccounted: 0,
      ...manifest.plantedByCategory,
    });
    const found = (res.body.discrepancyList as Finding[]).map((f) =>
      key({
        ...f,
        ssccs:
          f.kind === 'child_two_parents' || f.kind === 'case_count' || f.kind === 'foreign_child' || f.kind === 'lost_packaging'
            ? f.ssccs
            : null,
      }),
    );
    const planted = manifest.planted.map((p) =>
      key({
        category: p.category,
        kind: p.kind,
        serial: p.serial ?? null,
        ssccs: ['child_two_parents', 'case_count', 'foreign_child', 'lost_packaging'].includes(p.kind) ? (p.sscc ?? null) : null,
      }),
    );
    expect(found.sort()).toEqual(planted.sort());
  });

  it('gives the same content hash when nothing changed, and a new report ID', async () => {
    const first = await request(stack.app).post(`/batches/${LOT}/reconciliation`).set('X-API-Key', CAPTURE_KEY).expect(201);
    const second = await request(stack.app).post(`/batches/${LOT}/reconciliation`).set('X-API-Key', CAPTURE_KEY).expect(201);
    expect(second.body.contentHash).toBe(first.body.contentHash);
    expect(second.body.reportId).not.toBe(first.body.reportId);
    const { rows } = await stack.pool.query('SELECT content_hash FROM reconciliation_reports WHERE id = $1', [first.body.reportId]);
    expect(rows[0].content_hash).toBe(first.body.contentHash);
  });

  it("records the batch's monitoring point once: the newest report's counts, its first place in the series kept", async () => {
    const point = async () =>
      (await stack.pool.query('SELECT * FROM batch_metrics WHERE lot = $1', [LOT])).rows as Array<Record<string, unknown>>;
    const first = await request(stack.app).post(`/batches/${LOT}/reconciliation`).set('X-API-Key', CAPTURE_KEY).expect(201);
    const [before] = await point();
    const second = await request(stack.app).post(`/batches/${LOT}/reconciliation`).set('X-API-Key', CAPTURE_KEY).expect(201);
    const rows = await point();
    expect(rows).toHaveLength(1);
    const [after] = rows;
    expect(before!.report_id).toBe(first.body.reportId);
    expect(after!.report_id).toBe(second.body.reportId);
    expect(after!.first_recorded_at).toEqual(before!.first_recorded_at);
    expect(after!.line).toBe(manifest.batches[0]!.line);
    const b = second.body.balance;
    const d = second.body.discrepancies;
    expect(after).toMatchObject({
      commissioned: b.commissioned,
      packed: b.packed,
      rejected: b.rejected,
      sampled: b.sampled,
      destroyed: b.destroyed,
      unaccounted_units: b.unaccounted,
      duplicate_serial: d.duplicate_serial,
      aggregation_error: d.aggregation_error,
      missing_report: d.missing_report,
      lost_packaging: d.lost_packaging,
      unaccounted: d.unaccounted,
    });
    expect(d.aggregation_error).toBeGreaterThan(0);
  });

  it('runs as an activity that returns the summary and report ID, not the rows', async () => {
    const { reconcileBatch } = createReconciliationActivities(stack.pool);
    const summary = await reconcileBatch({ lot: LOT, deviationId: 'DEV-1999-000001' });
    expect(summary.balance).toEqual(manifest.balance);
    expect(summary.reportId).toMatch(/^RR-\d+$/);
    expect(Object.keys(summary).sort()).toEqual([
      'balance',
      'contentHash',
      'discrepancies',
      'generatedAt',
      'gtin',
      'lot',
      'reportId',
      'unknownBatch',
    ]);
  });

  it('refuses a report with one bad serial whole: 400 naming it, nothing stored', async () => {
    // This batch's rows only: other suites post reports to the shared test database meanwhile.
    const counts = `SELECT (SELECT count(*) FROM repository_reports WHERE batch_id IN (SELECT id FROM batches WHERE lot = $1)) AS reports,
                           (SELECT count(*) FROM repository_report_serials WHERE batch_id IN (SELECT id FROM batches WHERE lot = $1)) AS serials`;
    const before = await stack.pool.query<{ reports: string; serials: string }>(counts, [LOT]);
    const serials = Array.from({ length: 5000 }, (_, i) => `RFX${i}`);
    serials[3210] = 'bad serial with spaces';
    const res = await request(stack.app)
      .post(`/batches/${encodeURIComponent(LOT)}/repository-reports`)
      .set('X-API-Key', CAPTURE_KEY)
      .send({ target: 'EMVS', reportedAt: '2026-01-02T00:00:00Z', serials })
      .expect(400);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
    expect(res.body.errors).toEqual([{ path: 'serials.3210', message: expect.stringContaining('bad serial with spaces') }]);
    const after = await stack.pool.query(counts, [LOT]);
    expect(after.rows[0]).toEqual(before.rows[0]);
  });

  it('refuses a malformed report, and a reconciliation reader without credentials', async () => {
    const url = `/batches/${encodeURIComponent(LOT)}/repository-reports`;
    const cut = '{"target":"EMVS","serials":["A1",';
    const bad = await request(stack.app)
      .post(url)
      .set('X-API-Key', CAPTURE_KEY)
      .set('Content-Type', 'application/json')
      .send(cut)
      .expect(400);
    expect(bad.headers['content-type']).toMatch(/problem\+json/);
    expect(bad.body.detail).toBe(`The request body is invalid: the body ends before it is complete (byte ${cut.length}).`);
    const noComma = '{"target":"EMVS","reportedAt":"2026-01-02T00:00:00Z","serials":["A1" "A2"]}';
    const split = await request(stack.app)
      .post(url)
      .set('X-API-Key', CAPTURE_KEY)
      .set('Content-Type', 'application/json')
      .send(noComma)
      .expect(400);
    expect(split.body.errors).toEqual([{ path: '(body)', message: 'a missing comma between elements of the "serials" array' }]);
    expect(split.body.detail).toContain(`(byte ${noComma.indexOf('"A2"')})`);
    const notStrings = await request(stack.app)
      .post(url)
      .set('X-API-Key', CAPTURE_KEY)
      .send({ target: 'EMVS', reportedAt: '2026-01-02T00:00:00Z', serials: ['A1', 7, { s: 'A3' }] })
      .expect(400);
    expect(notStrings.body.errors).toEqual([
      { path: 'serials.1', message: 'must be a string' },
      { path: 'serials.2', message: 'must be a string' },
    ]);
    const noSerials = await request(stack.app)
      .post(url)
      .set('X-API-Key', CAPTURE_KEY)
      .send({ target: 'EMVS', reportedAt: '2026-01-02T00:00:00Z' })
      .expect(400);
    expect(noSerials.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'serials' })]));
    await request(stack.app).get(`/batches/${LOT}/reconciliation`).expect(401);
    await request(stack.app).post(`/batches/${LOT}/reconciliation`).expect(401);
  });

  it('answers 404 for an unknown lot and 409 when a lot is shared without ?gtin=', async () => {
    await request(stack.app).post('/batches/NO-SUCH-LOT/reconciliation').set('X-API-Key', CAPTURE_KEY).expect(404);
    const other = manifest.products[1].gtin;
    await request(stack.app)
      .post('/batches')
      .set('X-API-Key', CAPTURE_KEY)
      .send({ lot: LOT, gtin: other, expiry: '2028-01-31', plannedQuantity: 10, line: 'L9' })
      .expect(201);
    const res = await request(stack.app).post(`/batches/${LOT}/reconciliation`).set('X-API-Key', CAPTURE_KEY).expect(409);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
    const withGtin = await request(stack.app)
      .post(`/batches/${LOT}/reconciliation`)
      .set('X-API-Key', CAPTURE_KEY)
      .query({ gtin: manifest.products[0].gtin })
      .expect(201);
    expect(withGtin.body.balance).toEqual(manifest.balance);
  });
});
