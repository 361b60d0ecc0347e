import { createWriteStream, mkdirSync, writeFileSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { EPCIS_CONTEXT, EventFactory, type EpcisEvent } from './events';
import { caseSscc, CATEGORY_OF, palletSscc, plan, serialOf, type GeneratorConfig, type Plan, type PlantedDiscrepancy } from './plan';
import { Rng } from './rng';
import { epcis12DocumentStart, epcis12EventXml, EPCIS_12_DOCUMENT_END } from './xml';

/** Streams a document's text to a file, waiting when the stream's buffer is full, so memory stays flat. */
class JsonFile {
  private readonly out: WriteStream;
  constructor(readonly file: string) {
    this.out = createWriteStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 });
  }
  async write(text: string): Promise<void> {
    if (!this.out.write(text)) await once(this.out, 'drain');
  }
  async close(): Promise<void> {
    this.out.end();
    await once(this.out, 'finish');
  }
}

/** The syntaxes the generator writes its EPCIS documents in: EPCIS 2.0 JSON-LD, and EPCIS 1.2 XML (the twin). */
export type GeneratedFormat = 'json' | 'xml';

/** How one syntax opens, separates and closes a document, and writes an event. */
const SYNTAX: Record<GeneratedFormat, { start(creationDate: string): string; event(e: EpcisEvent, first: boolean): string; end: string }> =
  {
    json: {
      start: (creationDate) => {
        const header = { '@context': [EPCIS_CONTEXT], type: 'EPCISDocument', schemaVersion: '2.0', creationDate };
        return `${JSON.stringify(header).slice(0, -1)},"epcisBody":{"eventList":[\n`;
      },
      event: (e, first) => `${first ? '' : ',\n'}${JSON.stringify(e)}`,
      end: '\n]}}\n',
    },
    xml: { start: epcis12DocumentStart, event: (e) => `${epcis12EventXml(e)}\n`, end: EPCIS_12_DOCUMENT_END },
  };

/**
 * Splits an event stream into EPCIS documents of at most `perDocument` events, in each format asked
 * for: the same events in the same documents (epcis-0001.json and epcis-0001.xml hold the same).
 */
class DocumentSink {
  private current: Array<[GeneratedFormat, JsonFile]> = [];
  private inCurrent = 0;
  readonly files: Record<GeneratedFormat, string[]> = { json: [], xml: [] };
  private documents = 0;
  events = 0;
  serials = 0;

  constructor(
    private readonly dir: string,
    private readonly perDocument: number,
    private readonly creationDate: string,
    private readonly formats: readonly GeneratedFormat[],
  ) {}

  async add(event: EpcisEvent): Promise<void> {
    if (!this.current.length || this.inCurrent >= this.perDocument) await this.open();
    for (const [format, file] of this.current) await file.write(SYNTAX[format].event(event, this.inCurrent === 0));
    this.inCurrent++;
    this.events++;
    this.serials += ((event.epcList ?? event.childEPCs ?? []) as unknown[]).length;
  }

  private async open(): Promise<void> {
    await this.closeCurrent();
    this.documents++;
    this.inCurrent = 0;
    for (const format of this.formats) {
      const name = `epcis-${String(this.documents).padStart(4, '0')}.${format}`;
      this.files[format].push(name);
      const file = new JsonFile(path.join(this.dir, name));
      this.current.push([format, file]);
      await file.write(SYNTAX[format].start(this.creationDate));
    }
  }

  private async closeCurrent(): Promise<void> {
    for (const [format, file] of this.current) {
      await file.write(SYNTAX[format].end);
      await file.close();
    }
    this.current = [];
  }

  async close(): Promise<void> {
    await this.closeCurrent();
  }
}

export interface Manifest {
  generator: 'gxp-batch-generator/1';
  config: GeneratorConfig;
  products: Plan['products'];
  batches: Plan['batches'];
  /**
   * File names relative to the output directory, in capture order: `documents` the EPCIS 2.0 JSON-LD
   * documents, `xmlDocuments` their EPCIS 1.2 XML twins (each empty when that format was not asked for).
   */
  files: { products: string; batches: string; documents: string[]; xmlDocuments: string[]; repositoryReports: string[] };
  counts: { documents: number; events: number; epcs: number; cases: number; pallets: number; shipments: number; reportedSerials: number };
  /** The balance reconciliation of the main batch should show. */
  balance: Plan['balance'];
  /** Every discrepancy planted in the main batch, one entry per discrepancy reconciliation should report. */
  planted: PlantedDiscrepancy[];
  plantedByCategory: Record<string, number>;
}

/**
 * Writes a batch to `outDir`: products.json and batches.json (master data for POST /products and
 * POST /batches), EPCIS documents in capture order (EPCIS 2.0 JSON-LD, EPCIS 1.2 XML, or both: the
 * same events either way), the repository report(s) and manifest.json. Deterministic from the
 * config's seed; memory does not grow with the batch (units are produced case by case from their
 * index, and only the planted positions are remembered; documents are streamed to disk).
 */
export async function generateBatch(
  config: GeneratorConfig,
  outDir: string,
  onProgress: (unitsDone: number) => void = () => undefined,
  formats: readonly GeneratedFormat[] = ['json'],
): Promise<Manifest> {
  const p = plan(config);
  const { unitsPerCase: upc, casesPerPallet: cpp, seed } = config;
  const [main, foreignProduct] = p.products;
  const [mainBatch, foreignBatch, otherBatch] = p.batches;
  mkdirSync(outDir, { recursive: true });
  const rng = new Rng(seed ^ 0x2545f491);
  const ev = new EventFactory(config, rng);
  if (!formats.length) throw new Error('the batch needs at least one document format');
  const sink = new DocumentSink(outDir, config.eventsPerDocument, config.startTime, formats);
  const report = new JsonFile(path.join(outDir, 'repository-report-emvs.json'));
  const mainUnit = (i: number) => ev.sgtin(main.gtin, serialOf(seed, i));
  let reported = 0;
  let reportOpen = false;
  const reportSerial = async (i: number) => {
    await report.write(`${reportOpen ? ',' : ''}${JSON.stringify(serialOf(seed, i))}`);
    reportOpen = true;
    reported++;
  };
  await report.write(
    `{"target":"EMVS","lot":${JSON.stringify(config.lot)},"gtin":"${main.gtin}","reportedAt":"${new Date(Date.parse(config.startTime) + 86_400_000).toISOString()}","serials":[`,
  );

  // Units of other batches first: the foreign units packed by mistake, and the other batch's re-used serials.
  const foreign = [...p.foreignUnitOf.values()];
  for (let i = 0; i < foreign.length; i += upc) {
    await sink.add(
      ev.commissioning(
        foreign.slice(i, i + upc).map((f) => ev.sgtin(foreignProduct.gtin, serialOf(seed, f))),
        foreignBatch.lot,
        foreignBatch.expiry,
      ),
    );
  }
  const reused = [...p.slotPlants]
    .filter(([, k]) => k === 'duplicate_serial_other_batch')
    .map(([s]) => s)
    .sort((a, b) => a - b);
  for (let i = 0; i < reused.length; i += upc) {
    await sink.add(ev.commissioning(reused.slice(i, i + upc).map(mainUnit), otherBatch.lot, otherBatch.expiry));
  }

  // Extra units: commissioned with the batch, then rejected, sampled, destroyed, shipped loose or forgotten.
  for (let i = 0; i < p.extras.length; i += upc) {
    const chunk = p.extras.slice(i, i + upc);
    await sink.add(
      ev.commissioning(
        chunk.map((e) => mainUnit(e.index)),
        mainBatch.lot,
        mainBatch.expiry,
      ),
    );
    for (const e of chunk) await reportSerial(e.index);
  }

  // The packaging run, pallet by pallet: commission a case's units, pack the case, pack the pallet, ship it.
  let shipments = 0;
  for (let pal = 0; pal < p.pallets; pal++) {
    const caseIds: string[] = [];
    for (let c = pal * cpp; c < Math.min(p.cases, (pal + 1) * cpp); c++) {
      const commissioned: string[] = [];
      const children: string[] = [];
      for (let s = c * upc; s < (c + 1) * upc; s++) {
        const kind = p.slotPlants.get(s);
        if (kind === 'case_count') continue;
        if (kind === 'lost_packaging') {
          children.push(mainUnit(s));
          continue;
        }
        if (kind === 'foreign_child') {
          children.push(ev.sgtin(foreignProduct.gtin, serialOf(seed, p.foreignUnitOf.get(s) as number)));
          continue;
        }
        if (kind === 'child_two_parents') {
          children.push(mainUnit(p.secondParentOf.get(s) as number));
          continue;
        }
        commissioned.push(mainUnit(s));
        children.push(mainUnit(s));
        if (kind !== 'missing_report') await reportSerial(s);
      }
      await sink.add(ev.commissioning(commissioned, mainBatch.lot, mainBatch.expiry));
      const sscc = ev.sscc(caseSscc(config, c));
      await sink.add(ev.packing(sscc, children));
      caseIds.push(sscc);
    }
    const pallet = ev.sscc(palletSscc(config, pal));
    await sink.add(ev.packing(pallet, caseIds));
    await sink.add(ev.shipping([pallet], `SHIP-${config.lot}-${String(++shipments).padStart(5, '0')}`));
    onProgress(Math.min(config.units, (pal + 1) * cpp * upc));
  }

  // After the run: outcomes of the extra units, and the re-sent commissioning events.
  const loose = p.extras.filter((e) => e.kind === 'unaggregated').map((e) => mainUnit(e.index));
  if (loose.length) await sink.add(ev.shipping(loose, `SHIP-${config.lot}-${String(++shipments).padStart(5, '0')}`));
  for (const kind of ['rejected', 'sampled', 'destroyed'] as const) {
    const epcs = p.extras.filter((e) => e.kind === kind).map((e) => mainUnit(e.index));
    for (let i = 0; i < epcs.length; i += upc) await sink.add(ev.removal(epcs.slice(i, i + upc), kind));
  }
  const resent = [...p.slotPlants]
    .filter(([, k]) => k === 'duplicate_serial')
    .map(([s]) => s)
    .sort((a, b) => a - b);
  for (const s of resent) await sink.add(ev.commissioning([mainUnit(s)], mainBatch.lot, mainBatch.expiry));

  await sink.close();
  await report.write(']}\n');
  await report.close();

  writeFileSync(path.join(outDir, 'products.json'), `${JSON.stringify(p.products, null, 2)}\n`);
  writeFileSync(path.join(outDir, 'batches.json'), `${JSON.stringify(p.batches, null, 2)}\n`);
  const plantedByCategory: Record<string, number> = {};
  for (const e of p.expected) plantedByCategory[e.category] = (plantedByCategory[e.category] ?? 0) + 1;
  const manifest: Manifest = {
    generator: 'gxp-batch-generator/1',
    config,
    products: p.products,
    batches: p.batches,
    files: {
      products: 'products.json',
      batches: 'batches.json',
      documents: sink.files.json,
      xmlDocuments: sink.files.xml,
      repositoryReports: ['repository-report-emvs.json'],
    },
    counts: {
      documents: Math.max(sink.files.json.length, sink.files.xml.length),
      events: sink.events,
      epcs: sink.serials,
      cases: p.cases,
      pallets: p.pallets,
      shipments,
      reportedSerials: reported,
    },
    balance: p.balance,
    planted: p.expected,
    plantedByCategory,
  };
  writeFileSync(path.join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

export { CATEGORY_OF };
