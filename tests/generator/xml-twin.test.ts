import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { validateXML } from 'xmllint-wasm';
import { documentReader, type DocumentFormat } from '../../epcis/document-reader';
import { DEFAULT_CONFIG, PLANT_KINDS, type GeneratorConfig } from '../../lib/generator/plan';
import { generateBatch } from '../../lib/generator/write';

/**
 * The generator's EPCIS 1.2 XML twin: valid against the official EPCIS 1.2 XSD, and read by capture's
 * own XML reader into exactly the events of the JSON documents, document by document, in both
 * identifier spellings. Asking for XML as well changes nothing of the JSON batch.
 */

const config = (over: Partial<GeneratorConfig> = {}): GeneratorConfig => ({
  ...DEFAULT_CONFIG,
  seed: 11,
  units: 3000,
  unitsPerCase: 10,
  casesPerPallet: 6,
  eventsPerDocument: 250,
  plants: Object.fromEntries(PLANT_KINDS.map((k, i) => [k, 1 + (i % 3)])),
  outcomes: { rejected: 3, sampled: 2, destroyed: 2 },
  ...over,
});

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'gxp-gen-xml-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function eventsOf(file: string, format: DocumentFormat): unknown[] {
  const reader = documentReader(format);
  const buffer = readFileSync(file);
  reader.write(buffer, buffer.toString('utf8'));
  const events = reader.take();
  const end = reader.end();
  expect(end.problems).toEqual([]);
  for (const e of events) expect(e.problems).toEqual([]);
  return events.map((e) => e.event);
}

describe('the XML twin of a generated batch', () => {
  it.each(['urn', 'digital-link'] as const)('holds the events of the JSON documents (%s identifiers)', async (identifiers) => {
    const dir = tmp();
    const manifest = await generateBatch(config({ identifiers }), dir, () => undefined, ['json', 'xml']);
    expect(manifest.files.xmlDocuments).toEqual(manifest.files.documents.map((f) => f.replace(/\.json$/, '.xml')));
    expect(manifest.files.documents.length).toBeGreaterThan(2);
    let events = 0;
    manifest.files.documents.forEach((json, i) => {
      const fromJson = eventsOf(path.join(dir, json), 'json');
      const fromXml = eventsOf(path.join(dir, manifest.files.xmlDocuments[i]!), 'xml');
      expect(fromXml).toEqual(fromJson);
      events += fromXml.length;
    });
    expect(events).toBe(manifest.counts.events);
  });

  it('is valid against the official EPCIS 1.2 XSD', async () => {
    const dir = tmp();
    const manifest = await generateBatch(config(), dir, () => undefined, ['xml']);
    expect(manifest.files.documents).toEqual([]);
    const xsdDir = path.resolve(__dirname, '..', 'fixtures', 'epcis-xml', 'xsd', '1.2');
    const xsd = readdirSync(xsdDir).map((fileName) => ({ fileName, contents: readFileSync(path.join(xsdDir, fileName), 'utf8') }));
    const result = await validateXML({
      xml: manifest.files.xmlDocuments.map((fileName) => ({ fileName, contents: readFileSync(path.join(dir, fileName), 'utf8') })),
      schema: [xsd.find((f) => f.fileName === 'EPCglobal-epcis-1_2.xsd')!],
      preload: xsd.filter((f) => f.fileName !== 'EPCglobal-epcis-1_2.xsd'),
    });
    expect(result.errors.map((e) => e.rawMessage)).toEqual([]);
  });

  it('leaves the JSON batch as it is without XML: same seed, same files', async () => {
    const [alone, twin] = [tmp(), tmp()];
    const a = await generateBatch(config(), alone);
    const b = await generateBatch(config(), twin, () => undefined, ['json', 'xml']);
    expect(b.files.documents).toEqual(a.files.documents);
    for (const f of a.files.documents) expect(readFileSync(path.join(twin, f), 'utf8')).toBe(readFileSync(path.join(alone, f), 'utf8'));
    const { files: _fa, ...restA } = a;
    const { files: _fb, ...restB } = b;
    expect(restB).toEqual(restA);
  });
});
