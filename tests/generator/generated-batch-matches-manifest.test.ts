import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_CONFIG, PLANT_KINDS, type GeneratorConfig } from '../../lib/generator/plan';
import { generateBatch } from '../../lib/generator/write';
import { officialEpcisValidator } from './epcis-schema';
import { keyOf, referenceReconcile } from './reference-reconcile';

const config = (over: Partial<GeneratorConfig> = {}): GeneratorConfig => ({
  ...DEFAULT_CONFIG,
  seed: 42,
  units: 4000,
  unitsPerCase: 10,
  casesPerPallet: 8,
  eventsPerDocument: 300,
  plants: Object.fromEntries(PLANT_KINDS.map((k, i) => [k, 1 + (i % 3)])),
  outcomes: { rejected: 3, sampled: 2, destroyed: 1 },
  ...over,
});

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'gxp-gen-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('generated batches', () => {
  it('are valid EPCIS 2.0 documents under the official JSON Schema', async () => {
    const validate = officialEpcisValidator();
    for (const identifiers of ['urn', 'digital-link'] as const) {
      const dir = tmp();
      const manifest = await generateBatch(config({ identifiers }), dir);
      expect(manifest.files.documents.length).toBeGreaterThan(1);
      for (const f of manifest.files.documents) {
        const doc: unknown = JSON.parse(readFileSync(path.join(dir, f), 'utf8'));
        const ok = validate(doc);
        expect({ file: f, errors: ok ? null : validate.errors?.slice(0, 5) }).toEqual({ file: f, errors: null });
      }
    }
  });

  it('plant exactly what the manifest says: every discrepancy, the balance and the counts', async () => {
    for (const identifiers of ['urn', 'digital-link'] as const) {
      const dir = tmp();
      const manifest = await generateBatch(config({ identifiers }), dir);
      const found = referenceReconcile(dir, manifest);
      expect(found.keys).toEqual(manifest.planted.map(keyOf).sort());
      expect(found.balance).toEqual(manifest.balance);
      expect({ events: found.events, epcs: found.epcs, reported: found.reported }).toEqual({
        events: manifest.counts.events,
        epcs: manifest.counts.epcs,
        reported: manifest.counts.reportedSerials,
      });
      // Every discrepancy category reconciliation reports (reconciliation/reconcile.ts), and every kind of aggregation error.
      expect(Object.keys(manifest.plantedByCategory).sort()).toEqual([
        'aggregation_error',
        'duplicate_serial',
        'lost_packaging',
        'missing_report',
        'unaccounted',
      ]);
      expect(new Set(manifest.planted.map((p) => p.kind))).toEqual(new Set(PLANT_KINDS));
    }
  });

  it('plant nothing when asked for nothing', async () => {
    const dir = tmp();
    const manifest = await generateBatch(config({ plants: {}, outcomes: {} }), dir);
    expect(manifest.planted).toEqual([]);
    expect(referenceReconcile(dir, manifest).keys).toEqual([]);
    expect(manifest.balance).toEqual({ commissioned: 4000, packed: 4000, rejected: 0, sampled: 0, destroyed: 0, unaccounted: 0 });
  });

  it('are byte for byte the same from the same seed, and differ with another seed', async () => {
    const digest = async (seed: number) => {
      const dir = tmp();
      const m = await generateBatch(config({ seed }), dir);
      const h = createHash('sha256');
      for (const f of [...m.files.documents, ...m.files.repositoryReports, 'manifest.json']) h.update(readFileSync(path.join(dir, f)));
      return h.digest('hex');
    };
    expect(await digest(7)).toBe(await digest(7));
    expect(await digest(7)).not.toBe(await digest(8));
  });

  it('refuses a batch that is not whole cases, and more plants than it can hold', async () => {
    await expect(generateBatch(config({ units: 4005 }), tmp())).rejects.toThrow(/multiple of unitsPerCase/);
    await expect(generateBatch(config({ plants: { case_count: 300 } }), tmp())).rejects.toThrow(/too many/);
  });
});
