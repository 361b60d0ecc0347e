import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { countsFromRate, DEFAULT_CONFIG, type GeneratorConfig } from '../../lib/generator/plan';
import { generateBatch, type Manifest } from '../../lib/generator/write';
import { CAPTURE_KEY } from '../epcis/helpers';
import { sendGeneratedBatch } from '../helpers/generated-batch';
import { scratchDatabase, type ScratchDatabase } from '../helpers/scratch-database';
import { startStack, testConfig, type TestStack } from '../helpers/stack';

/**
 * A 1,000,000-unit batch captured as EPCIS 1.2 XML through the API reconciles to the same findings
 * as its EPCIS 2.0 JSON twin: the same balance, the same count per category, the same discrepancy
 * list, entry for entry.
 *
 * The two are the same events (the same eventIDs), and capture stores an event once whichever way it
 * came, so each goes into a database of its own: captured into one, the second would be a re-send
 * of the first and prove nothing. The lot, GTINs and serials stay those of the batch: renaming them
 * for the second capture would make it another batch, not the twin.
 *
 * Time: 64 s in all on the 2-core development machine when it was quiet (load average under 2):
 * generating both twins, the two captures side by side (one per database), the two reconciliations
 * (2.3 s). The timeouts are generous because the machine is shared and the same run under load
 * takes several times as long.
 */
const UNITS = 1_000_000;

type Finding = { category: string; kind: string; serial: string | null; gtin: string | null; ssccs: string[] | null; [k: string]: unknown };

let dir: string;
let manifest: Manifest;
const twins: Array<{ format: 'json' | 'xml'; db: ScratchDatabase; stack: TestStack }> = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'xml-twin-'));
  const config: GeneratorConfig = {
    ...DEFAULT_CONFIG,
    seed: 20261205,
    units: UNITS,
    plants: countsFromRate(UNITS, 0.0005),
    outcomes: { rejected: 500, sampled: 200, destroyed: 100 },
  };
  const [generated, ...dbs] = await Promise.all([
    generateBatch(config, dir, () => undefined, ['json', 'xml']),
    scratchDatabase('xml_twin_json'),
    scratchDatabase('xml_twin_xml'),
  ]);
  manifest = generated;
  for (const [i, format] of (['json', 'xml'] as const).entries()) {
    const db = dbs[i]!;
    twins.push({
      format,
      db,
      stack: await startStack({ worker: false, config: testConfig({ DATABASE_URL: db.url, CAPTURE_API_KEY: CAPTURE_KEY }) }),
    });
  }
  await Promise.all(twins.map((t) => sendGeneratedBatch(t.stack.app, dir, manifest, CAPTURE_KEY, t.format)));
}, 900_000);
afterAll(async () => {
  for (const t of twins) {
    await t.stack.stop();
    await t.db.drop();
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const comparable = (f: Finding) => JSON.stringify(Object.fromEntries(Object.entries(f).sort(([a], [b]) => a.localeCompare(b))));

it('reconciles the XML capture of a 1,000,000-unit batch to the findings of its JSON twin', async () => {
  expect(manifest.files.xmlDocuments).toHaveLength(manifest.files.documents.length);
  const [json, xml] = await Promise.all(
    twins.map(async (t) => {
      const res = await request(t.stack.app)
        .post(`/batches/${encodeURIComponent(manifest.config.lot)}/reconciliation`)
        .set('X-API-Key', CAPTURE_KEY)
        .expect(201);
      const stored = await t.stack.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM epcis_events');
      return {
        body: res.body as { balance: unknown; discrepancies: Record<string, number>; discrepancyList: Finding[] },
        events: stored.rows[0]!.n,
      };
    }),
  );
  // Both captured every event, and found what the generator planted.
  expect(json!.events).toBe(manifest.counts.events);
  expect(xml!.events).toBe(manifest.counts.events);
  expect(json!.body.balance).toEqual(manifest.balance);
  expect(json!.body.discrepancies).toMatchObject(manifest.plantedByCategory);
  expect(json!.body.discrepancyList).toHaveLength(manifest.planted.length);
  // The XML twin: the same, entry for entry.
  expect(xml!.body.balance).toEqual(json!.body.balance);
  expect(xml!.body.discrepancies).toEqual(json!.body.discrepancies);
  expect(xml!.body.discrepancyList.map(comparable).sort()).toEqual(json!.body.discrepancyList.map(comparable).sort());
}, 300_000);
