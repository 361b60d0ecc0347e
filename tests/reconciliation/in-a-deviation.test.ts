import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { DEFAULT_CONFIG, PLANT_KINDS } from '../../lib/generator/plan';
import { generateBatch, type Manifest } from '../../lib/generator/write';
import { as, createCast, type Cast } from '../helpers/actors';
import { newDeviationRequest } from '../helpers/fixtures';
import { sendGeneratedBatch } from '../helpers/generated-batch';
import { compressedPolicy, eventually, startStack, testConfig, type TestStack } from '../helpers/stack';
import { CAPTURE_KEY } from '../epcis/helpers';

/**
 * Reconciliation as the deviation workflow runs it: an activity on the worker, on the dev server,
 * over a batch captured through the API. The deviation shows the summary and the stored report's
 * ID; the workflow history, which is the audit evidence, holds that summary and never the units.
 */
let stack: TestStack;
let cast: Cast;
let dir: string;
let manifest: Manifest;
const LOT = `LOT-D${Date.now().toString(36).toUpperCase().slice(-6)}`;

beforeAll(async () => {
  stack = await startStack({ policy: compressedPolicy(), config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY }) });
  cast = await createCast(stack.app, stack.pool);
  dir = mkdtempSync(path.join(tmpdir(), 'recon-dev-'));
  manifest = await generateBatch(
    {
      ...DEFAULT_CONFIG,
      seed: 21,
      units: 400,
      unitsPerCase: 10,
      casesPerPallet: 5,
      lot: LOT,
      eventsPerDocument: 60,
      plants: Object.fromEntries(PLANT_KINDS.map((k) => [k, 1])),
      outcomes: { rejected: 1, sampled: 1, destroyed: 1 },
    },
    dir,
  );
  await sendGeneratedBatch(stack.app, dir, manifest, CAPTURE_KEY);
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await stack.stop();
});

it('reconciles the batch a deviation names during containment: the summary on the deviation, the report stored under it, no unit in the history', async () => {
  const id = (
    await request(stack.app)
      .post('/deviations')
      .set(as(cast.qaLead))
      .send(newDeviationRequest({ batches: [LOT] }))
      .expect(201)
  ).body.id as string;
  const contained = await eventually(async () => {
    const s = (await request(stack.app).get(`/deviations/${id}`).set(as(cast.auditor)).expect(200)).body.deviation;
    return s.containment.actionsCompletedAt ? s : undefined;
  }, 60_000);

  const [summary] = contained.containment.preliminaryReconciliation;
  expect(contained.containment.preliminaryReconciliation).toHaveLength(1);
  expect(summary).toMatchObject({ lot: LOT, gtin: manifest.products[0].gtin, unknownBatch: false, balance: manifest.balance });
  expect(summary.discrepancies).toEqual({
    duplicate_serial: 0,
    aggregation_error: 0,
    missing_report: 0,
    lost_packaging: 0,
    unaccounted: 0,
    ...manifest.plantedByCategory,
  });
  const { rows } = await stack.pool.query('SELECT deviation_id, content_hash FROM reconciliation_reports WHERE id = $1', [
    summary.reportId,
  ]);
  expect(rows).toEqual([{ deviation_id: id, content_hash: summary.contentHash }]);
  // The same data reconciled through the API gives the same content hash.
  const direct = await request(stack.app).post(`/batches/${LOT}/reconciliation`).set(as(cast.qaLead)).expect(201);
  expect(direct.body.contentHash).toBe(summary.contentHash);

  // In the history: the activity, scheduled with a heartbeat timeout, returning the summary only.
  const history = await stack.temporal.workflow.getHandle(id).fetchHistory();
  const scheduled = history.events!.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'reconcileBatch')!;
  expect(Number(scheduled.activityTaskScheduledEventAttributes!.heartbeatTimeout!.seconds)).toBeGreaterThan(0);
  const completed = history.events!.find(
    (e) => e.activityTaskCompletedEventAttributes?.scheduledEventId?.toString() === scheduled.eventId!.toString(),
  )!;
  const result = JSON.parse(Buffer.from(completed.activityTaskCompletedEventAttributes!.result!.payloads![0]!.data!).toString('utf8'));
  expect(Object.keys(result).sort()).toEqual([
    'balance',
    'contentHash',
    'discrepancies',
    'generatedAt',
    'gtin',
    'lot',
    'reportId',
    'unknownBatch',
  ]);
  const everything = textOf(history);
  const plantedSerials = manifest.planted.map((p) => p.serial).filter((s): s is string => Boolean(s));
  expect(plantedSerials.length).toBeGreaterThan(3);
  // (the search reads the payloads: the report ID the activity returned is found there)
  expect(everything).toContain(summary.reportId);
  expect(plantedSerials.filter((s) => everything.includes(s))).toEqual([]);
});

/** Every string and every payload (decoded as UTF-8) in a history, joined: what an auditor replaying it can read. */
function textOf(value: unknown, seen = new Set<unknown>()): string {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (!value || typeof value !== 'object' || seen.has(value)) return '';
  seen.add(value);
  return Object.values(value as Record<string, unknown>)
    .map((v) => textOf(v, seen))
    .join('\n');
}
