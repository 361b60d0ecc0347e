/**
 * npm run generate -- --units 100000 --seed 42 --rate 0.005 --out .data/batches/lot42
 *
 * Writes a realistic batch (master data, EPCIS 2.0 JSON-LD and/or EPCIS 1.2 XML documents, repository
 * report) with planted discrepancies and a manifest of exactly what was planted. Same seed, same files.
 */
import { parseArgs } from 'node:util';
import path from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { countsFromRate, DEFAULT_CONFIG, PLANT_KINDS, type GeneratorConfig, type PlantKind } from '../lib/generator/plan';
import { generateBatch, type GeneratedFormat } from '../lib/generator/write';

const { values } = parseArgs({
  options: {
    units: { type: 'string', default: '100000' },
    seed: { type: 'string', default: '1' },
    rate: { type: 'string', default: '0.005' },
    plant: { type: 'string', multiple: true, default: [] },
    rejected: { type: 'string', default: '0' },
    sampled: { type: 'string', default: '0' },
    destroyed: { type: 'string', default: '0' },
    'units-per-case': { type: 'string', default: String(DEFAULT_CONFIG.unitsPerCase) },
    'cases-per-pallet': { type: 'string', default: String(DEFAULT_CONFIG.casesPerPallet) },
    'events-per-document': { type: 'string', default: String(DEFAULT_CONFIG.eventsPerDocument) },
    lot: { type: 'string', default: DEFAULT_CONFIG.lot },
    'digital-link': { type: 'boolean', default: false },
    format: { type: 'string', default: 'json' },
    out: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  process.stdout.write(`usage: npm run generate -- [--units N] [--seed S] [--rate R | --plant kind=count ...]
       [--rejected N] [--sampled N] [--destroyed N] [--units-per-case N] [--cases-per-pallet N]
       [--events-per-document N] [--lot LOT] [--digital-link] [--format json|xml|both] --out DIR
--format: EPCIS 2.0 JSON-LD (epcis-NNNN.json), EPCIS 1.2 XML (epcis-NNNN.xml), or both (the same events)
plant kinds: ${PLANT_KINDS.join(', ')}\n`);
  process.exit(0);
}

function int(name: string, v: string | undefined): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`--${name} must be a non-negative integer, not "${v}"\n`);
    process.exit(2);
  }
  return n;
}

const units = int('units', values.units);
const plants: Partial<Record<PlantKind, number>> = countsFromRate(units, Number(values.rate));
for (const spec of values.plant ?? []) {
  const [kind, count] = spec.split('=');
  if (!PLANT_KINDS.includes(kind as PlantKind)) {
    process.stderr.write(`--plant ${spec}: kind must be one of ${PLANT_KINDS.join(', ')}\n`);
    process.exit(2);
  }
  plants[kind as PlantKind] = int('plant', count);
}
const config: GeneratorConfig = {
  ...DEFAULT_CONFIG,
  seed: int('seed', values.seed),
  units,
  unitsPerCase: int('units-per-case', values['units-per-case']),
  casesPerPallet: int('cases-per-pallet', values['cases-per-pallet']),
  eventsPerDocument: int('events-per-document', values['events-per-document']),
  lot: values.lot ?? DEFAULT_CONFIG.lot,
  identifiers: values['digital-link'] ? 'digital-link' : 'urn',
  plants,
  outcomes: {
    rejected: int('rejected', values.rejected),
    sampled: int('sampled', values.sampled),
    destroyed: int('destroyed', values.destroyed),
  },
};
const FORMATS: Record<string, GeneratedFormat[]> = { json: ['json'], xml: ['xml'], both: ['json', 'xml'] };
const formats = FORMATS[values.format ?? 'json'];
if (!formats) {
  process.stderr.write(`--format must be json, xml or both, not "${values.format}"\n`);
  process.exit(2);
}
const outDir = path.resolve(values.out ?? path.join('.data', 'batches', `${config.lot}-seed${config.seed}`));

async function main(): Promise<void> {
  const started = Date.now();
  const bar = new SingleBar({ format: 'generate |{bar}| {percentage}% {value}/{total} units', hideCursor: true }, Presets.shades_classic);
  bar.start(units, 0);
  const manifest = await generateBatch(config, outDir, (done) => bar.update(done), formats);
  bar.stop();
  process.stdout.write(
    `${outDir}: ${manifest.counts.documents} documents, ${manifest.counts.events} events, ${manifest.counts.epcs} EPCs, ` +
      `${manifest.planted.length} planted discrepancies ${JSON.stringify(manifest.plantedByCategory)} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
