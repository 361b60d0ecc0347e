/**
 * npm run bench:xml — capture of a 1,000,000-unit batch sent as EPCIS 1.2 XML, beside the same batch
 * sent as EPCIS 2.0 JSON-LD and PostgreSQL's COPY of the rows capture wrote, in one run:
 *   json      POST /epcis/capture of every JSON document, through an API process of its own
 *   xml       the same of every XML twin (the same events: lib/generator's XML output), through
 *             another API process, into another database (the same events captured into one
 *             database would be re-sends, stored once)
 *   baseline  raw COPY of the rows the JSON capture wrote, into tables with the same indexes
 *   memory    each API process's peak RSS (the kernel's high-water mark)
 * Each capture is then reconciled through its API and the findings compared: the twin must find the
 * same. Query and trace latency on such a batch is bench:trace's (bench/results/trace-query-*), cited
 * in the results, not measured again here.
 *
 * Targets: XML capture time ≤ 1.5 × JSON's; the XML API process's peak RSS < 300 MB.
 * Results: bench/results/xml-capture-<date and time>.{json,md}. Never part of the test suite.
 *
 * Environment: BENCH_UNITS (default 1000000), BENCH_RATE (0.005), BENCH_SEED (1), BENCH_CAPTURE_CLIENTS
 * (2, as npm run bench), BENCH_ADMIN_URL (postgres://postgres@127.0.0.1:5432/postgres), BENCH_API_CPU_PROFILE
 * (a directory for the XML API process's CPU profile; a profiled run writes no results).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { startApiProcess } from './api-process-start';
import { migrate } from '../db/migrate';
import { createPool } from '../db/pool';
import { captureFile } from '../lib/capture-client';
import { countsFromRate, DEFAULT_CONFIG, type GeneratorConfig } from '../lib/generator/plan';
import { generateBatch, type Manifest } from '../lib/generator/write';
import { describeCode } from './code-version';
import { copyBaseline, rowCounts } from './copy-baseline';
import { resultStamp, verdict } from './figures';
import { unwatchedPolicyFile } from './unwatched-policy';
import { describeMachine, type MachineDescription } from './machine';

const root = path.resolve(__dirname, '..');
const units = Number(process.env.BENCH_UNITS ?? 1_000_000);
const rate = Number(process.env.BENCH_RATE ?? 0.005);
const seed = Number(process.env.BENCH_SEED ?? 1);
const captureClients = Number(process.env.BENCH_CAPTURE_CLIENTS ?? 2);
const adminUrl = process.env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const profileDir = process.env.BENCH_API_CPU_PROFILE ? path.resolve(process.env.BENCH_API_CPU_PROFILE) : null;
const TARGETS = { xmlOverJson: 1.5, peakRssMB: 300 };

const log = (msg: string) => process.stdout.write(`[bench:xml] ${msg}\n`);
const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;
const loadAverage = () => os.loadavg().map((x) => round(x, 2));

async function post(baseUrl: string, route: string, apiKey: string, body?: unknown): Promise<unknown> {
  const res = await fetch(new URL(route, baseUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`POST ${route}: HTTP ${res.status} ${text.slice(0, 500)}`);
  return JSON.parse(text) as unknown;
}

async function createDatabase(label: string): Promise<{ url: string; name: string }> {
  const url = new URL(adminUrl);
  const name = `gxp_bench_xml_${label}_${Date.now().toString(36)}`;
  url.pathname = `/${name}`;
  await migrate(url.toString());
  return { url: url.toString(), name };
}

async function dropDatabase(name: string): Promise<void> {
  if (process.env.BENCH_KEEP_DB === '1') return;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

interface Finding {
  category: string;
  [k: string]: unknown;
}

interface CaptureRun {
  format: 'json' | 'xml';
  seconds: number;
  serialsPerSecond: number;
  bytes: number;
  peakRssMB: number;
  /** Rows capture added, per table. */
  rows: Record<string, number>;
  reconciliation: { seconds: number; balance: unknown; discrepancies: Record<string, number>; findings: string[] };
}

/** One format's capture into a database of its own, then its reconciliation; the database is kept for the COPY baseline. */
async function captureRun(format: 'json' | 'xml', manifest: Manifest, dir: string, database: { url: string }): Promise<CaptureRun> {
  const apiKey = randomBytes(24).toString('hex');
  const api = await startApiProcess({
    databaseUrl: database.url,
    apiKey,
    policyFile: unwatchedPolicyFile(dir),
    cpuProfileDir: format === 'xml' ? profileDir : null,
  });
  const pool = createPool(database.url, 2);
  try {
    for (const p of manifest.products) await post(api.baseUrl, '/products', apiKey, p);
    await post(api.baseUrl, '/batches', apiKey, manifest.batches[0]);
    const before = await rowCounts(pool);
    const documents = format === 'xml' ? manifest.files.xmlDocuments : manifest.files.documents;
    const queue = [...documents];
    let bytes = 0;
    const started = performance.now();
    // Each client sends its next document when the last is answered, in the order generated (as npm run bench).
    const client = async () => {
      for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
        const r = await captureFile(api.baseUrl, path.join(dir, f), { 'X-API-Key': apiKey }, (n) => (bytes += n));
        if (r.status >= 300) throw new Error(`${format} capture of ${f}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 800)}`);
      }
    };
    await Promise.all(Array.from({ length: captureClients }, client));
    const seconds = (performance.now() - started) / 1000;
    const peakRssMB = mb((await api.rss()).maxRss);
    const after = await rowCounts(pool);
    const rows = Object.fromEntries(
      [...after].filter(([t, n]) => n > (before.get(t) ?? 0) && t !== 'schema_migrations').map(([t, n]) => [t, n - (before.get(t) ?? 0)]),
    );
    log(`${format}: ${documents.length} documents in ${seconds.toFixed(1)} s, peak RSS ${peakRssMB} MB`);

    const report = JSON.parse(readFileSync(path.join(dir, manifest.files.repositoryReports[0]!), 'utf8')) as Record<string, unknown>;
    const lot = encodeURIComponent(manifest.config.lot);
    await post(api.baseUrl, `/batches/${lot}/repository-reports`, apiKey, {
      target: report.target,
      reportedAt: report.reportedAt,
      serials: report.serials,
      gtin: manifest.products[0].gtin,
    });
    const t0 = performance.now();
    const rec = (await post(api.baseUrl, `/batches/${lot}/reconciliation`, apiKey)) as {
      balance: unknown;
      discrepancies: Record<string, number>;
      discrepancyList: Finding[];
    };
    // Untimed: the rows this run wrote are vacuumed and checkpointed now, so that autovacuum and the
    // checkpointer do not work on them while the next format is being captured.
    await pool.query('VACUUM (ANALYZE)');
    await pool.query('CHECKPOINT');
    const findings = rec.discrepancyList
      .map((f) => JSON.stringify(Object.fromEntries(Object.entries(f).sort(([a], [b]) => a.localeCompare(b)))))
      .sort();
    return {
      format,
      seconds: round(seconds),
      serialsPerSecond: Math.round(manifest.balance.commissioned / seconds),
      bytes,
      peakRssMB,
      rows,
      reconciliation: { seconds: round((performance.now() - t0) / 1000), balance: rec.balance, discrepancies: rec.discrepancies, findings },
    };
  } finally {
    await pool.end();
    await api.stop();
  }
}

/** The newest bench:trace results, for the query and trace latency on a batch of this size. */
function latestTraceFigures(): { file: string; requests: Record<string, { p50: number; p99: number }> } | null {
  const dir = path.join(root, 'bench', 'results');
  const file = readdirSync(dir)
    .filter((f) => /^trace-query-.*\.json$/.test(f))
    .sort()
    .at(-1);
  if (!file) return null;
  const r = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as { requests: Record<string, { p50: number; p99: number }> };
  return { file: file.replace(/\.json$/, '.md'), requests: r.requests };
}

async function main(): Promise<void> {
  const loadBefore = loadAverage();
  const workDir = path.join(root, '.data', 'bench', `xml-seed${seed}-${units}`);
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });
  const config: GeneratorConfig = {
    ...DEFAULT_CONFIG,
    seed,
    units,
    plants: countsFromRate(units, rate),
    outcomes: { rejected: Math.round(units * 0.0005), sampled: Math.round(units * 0.0002), destroyed: Math.round(units * 0.0001) },
  };
  log(`generating ${units} units as EPCIS 2.0 JSON-LD and EPCIS 1.2 XML into ${path.relative(root, workDir)}`);
  let t = performance.now();
  const manifest = await generateBatch(config, workDir, () => undefined, ['json', 'xml']);
  log(
    `generated ${manifest.counts.documents} documents of ${manifest.counts.events} events each way in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );

  const jsonDb = await createDatabase('json');
  const xmlDb = await createDatabase('xml');
  let machine: MachineDescription;
  try {
    const pool = createPool(jsonDb.url, 1);
    machine = await describeMachine(pool);
    await pool.end();
    const json = await captureRun('json', manifest, workDir, jsonDb);
    const xml = await captureRun('xml', manifest, workDir, xmlDb);
    await dropDatabase(xmlDb.name);
    log('baseline: raw COPY of the rows the JSON capture wrote');
    t = performance.now();
    const copy = await copyBaseline(jsonDb.url, Object.keys(json.rows), workDir);
    log(`COPY of ${copy.rows} rows in ${copy.seconds.toFixed(1)} s (${((performance.now() - t) / 1000).toFixed(1)} s with the dump)`);

    const sameFindings =
      JSON.stringify(xml.reconciliation.findings) === JSON.stringify(json.reconciliation.findings) &&
      JSON.stringify(xml.reconciliation.discrepancies) === JSON.stringify(json.reconciliation.discrepancies) &&
      JSON.stringify(xml.reconciliation.balance) === JSON.stringify(json.reconciliation.balance);
    const strip = (r: CaptureRun) => ({ ...r, reconciliation: { ...r.reconciliation, findings: r.reconciliation.findings.length } });
    const results = {
      date: new Date().toISOString(),
      code: describeCode(root),
      machine,
      loadAverage: { before: loadBefore, after: loadAverage(), cores: os.cpus().length },
      batch: {
        units,
        rate,
        seed,
        documents: manifest.counts.documents,
        events: manifest.counts.events,
        epcs: manifest.counts.epcs,
        serials: manifest.balance.commissioned,
        planted: manifest.plantedByCategory,
      },
      clients: captureClients,
      json: strip(json),
      xml: strip(xml),
      copy: { seconds: round(copy.seconds), rows: copy.rows, serialsPerSecond: Math.round(manifest.balance.commissioned / copy.seconds) },
      xmlOverJson: round(xml.seconds / json.seconds, 2),
      xmlOverCopy: round(xml.seconds / copy.seconds, 2),
      jsonOverCopy: round(json.seconds / copy.seconds, 2),
      sameFindings,
      traceQuery: latestTraceFigures(),
      targets: TARGETS,
    };
    if (profileDir) {
      log(`profiled run: XML ${xml.seconds} s, JSON ${json.seconds} s; results not written, the XML API's CPU profile is in ${profileDir}`);
      return;
    }
    writeResults(results);
    if (!sameFindings) throw new Error('the XML capture did not reconcile to the findings of the JSON capture');
  } finally {
    await dropDatabase(jsonDb.name);
    await dropDatabase(xmlDb.name);
    rmSync(workDir, { recursive: true, force: true });
  }
}

type RunFigures = Pick<CaptureRun, 'seconds' | 'serialsPerSecond' | 'bytes' | 'peakRssMB'> & { reconciliation: { seconds: number } };

function writeResults(r: {
  date: string;
  code: string;
  machine: MachineDescription;
  loadAverage: { before: number[]; after: number[]; cores: number };
  batch: Record<string, unknown> & { serials: number; events: number; documents: number };
  clients: number;
  json: RunFigures;
  xml: RunFigures;
  copy: { seconds: number; rows: number; serialsPerSecond: number };
  xmlOverJson: number;
  xmlOverCopy: number;
  jsonOverCopy: number;
  sameFindings: boolean;
  traceQuery: ReturnType<typeof latestTraceFigures>;
  targets: typeof TARGETS;
}): void {
  const dir = path.join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const name = `xml-capture-${resultStamp(r.date)}`;
  writeFileSync(path.join(dir, `${name}.json`), `${JSON.stringify(r, null, 2)}\n`);
  const m = r.machine;
  const row = (what: string, c: { seconds: number; serialsPerSecond: number; bytes: number; peakRssMB: number }, ratio: string) =>
    `| ${what} | ${c.seconds} s | ${c.serialsPerSecond.toLocaleString('en')} | ${mb(c.bytes).toLocaleString('en')} MB | ${ratio} | ${c.peakRssMB} MB |`;
  const trace = r.traceQuery
    ? Object.entries(r.traceQuery.requests)
        .map(([request, d]) => `| ${request} | ${d.p50} | ${d.p99} |`)
        .join('\n')
    : '';
  const md = `# XML capture beside JSON and COPY, ${r.date}

Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; ${m.os}; Node ${m.node}; ${m.postgres}.
Load average (1, 5, 15 minutes) on its ${r.loadAverage.cores} cores: ${r.loadAverage.before.join(', ')} before the run, ${r.loadAverage.after.join(', ')} after.

Code: ${r.code}.

Batch: ${JSON.stringify(r.batch)}. The same events as ${r.batch.documents} EPCIS 2.0 JSON-LD documents and as ${r.batch.documents} EPCIS 1.2 XML documents, each captured through an API process of its own into a database of its own, ${r.clients} clients at once.

| capture | time | serials/s | sent | × JSON | API peak RSS |
| --- | --- | --- | --- | --- | --- |
${row('EPCIS 2.0 JSON-LD', r.json, '1×')}
${row('EPCIS 1.2 XML', r.xml, `${r.xmlOverJson}×`)}
| raw COPY of the rows the JSON capture wrote (${r.copy.rows.toLocaleString('en')} rows) | ${r.copy.seconds} s | ${r.copy.serialsPerSecond.toLocaleString('en')} | — | ${round(r.copy.seconds / r.json.seconds, 2)}× | — |

| target | figure | |
| --- | --- | --- |
| XML capture time ≤ ${r.targets.xmlOverJson}× JSON's | ${r.xmlOverJson}× | ${verdict(r.xmlOverJson <= r.targets.xmlOverJson)} |
| XML API process peak RSS < ${r.targets.peakRssMB} MB | ${r.xml.peakRssMB} MB | ${verdict(r.xml.peakRssMB < r.targets.peakRssMB)} |

Against COPY: JSON capture ${r.jsonOverCopy}× the COPY time, XML ${r.xmlOverCopy}×.

Reconciliation of each capture through its API: JSON ${r.json.reconciliation.seconds} s, XML ${r.xml.reconciliation.seconds} s; the same balance, counts and discrepancy list: ${r.sameFindings}.
${
  r.traceQuery
    ? `
Query and trace latency on a 1,000,000-unit batch, from [${r.traceQuery.file}](${r.traceQuery.file}) (npm run bench:trace; not measured again here; the XML answer adds the writing of at most a page of events):

| request | p50 ms | p99 ms |
| --- | --- | --- |
${trace}
`
    : ''
}`;
  writeFileSync(path.join(dir, `${name}.md`), md);
  process.stdout.write(`\n${md}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`[bench:xml] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
