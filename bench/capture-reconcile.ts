/**
 * npm run bench  — capture and reconciliation of a 1,000,000-unit batch, each beside a baseline
 * measured in the same run on the same rows:
 *   capture        POST /epcis/capture of every generated document, through a separate API process
 *                  baseline: PostgreSQL's raw COPY of the rows capture wrote, into tables with the same indexes
 *   reconciliation POST /batches/:lot/reconciliation
 *                  baseline: one plain SQL aggregate over the same tables
 *   memory         the API process's peak RSS (kernel high-water mark)
 * Runs in a database of its own (created and migrated here, dropped at the end unless BENCH_KEEP_DB=1).
 * Results: bench/results/capture-reconcile-<date and time>.{json,md}. Never part of the test suite.
 *
 * Environment: BENCH_UNITS (default 1000000), BENCH_RATE (0.005), BENCH_SEED (1), BENCH_CAPTURE_CLIENTS
 * (2: documents sent by two clients at once, each waiting for its answer before its next document),
 * BENCH_ADMIN_URL (postgres://postgres@127.0.0.1:5432/postgres), BENCH_API_CPU_PROFILE (a directory for the API
 * process's CPU profile; profiling slows it, so such a run's figures are not results).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { Client } from 'pg';
import { startApiProcess } from './api-process-start';
import { migrate } from '../db/migrate';
import { createPool, type Pool } from '../db/pool';
import { captureFile } from '../lib/capture-client';
import { countsFromRate, DEFAULT_CONFIG, type GeneratorConfig } from '../lib/generator/plan';
import { generateBatch, type Manifest } from '../lib/generator/write';
import { describeCode } from './code-version';
import { copyBaseline, rowCounts } from './copy-baseline';
import { describeMachine } from './machine';
import { unwatchedPolicyFile } from './unwatched-policy';

const root = path.resolve(__dirname, '..');
const units = Number(process.env.BENCH_UNITS ?? 1_000_000);
const rate = Number(process.env.BENCH_RATE ?? 0.005);
const seed = Number(process.env.BENCH_SEED ?? 1);
/** Integration clients sending documents at the same time, as a site's packaging lines would. */
const captureClients = Number(process.env.BENCH_CAPTURE_CLIENTS ?? 2);
const TARGETS = { serialsPerSecond: 50_000, reconciliationSeconds: 5, peakRssMB: 300 };

const log = (msg: string) => process.stdout.write(`[bench] ${msg}\n`);
const mb = (bytes: number) => Math.round(bytes / 2 ** 20);

/** BENCH_API_CPU_PROFILE=DIR: the API process writes a V8 CPU profile there when it stops (for where Node's time goes). */
const profileDir = process.env.BENCH_API_CPU_PROFILE ? path.resolve(process.env.BENCH_API_CPU_PROFILE) : null;

async function api(
  baseUrl: string,
  method: string,
  url: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(new URL(url, baseUrl), {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // keep text
  }
  return { status: res.status, body: parsed };
}

function expectOk(what: string, r: { status: number; body: unknown }): void {
  if (r.status >= 300) throw new Error(`${what}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 500)}`);
}

/** Capture, master data and reports authenticate with the API key from config (api/auth.ts: X-API-Key). */
const captureAuthHeaders = (apiKey: string): Record<string, string> => ({ 'X-API-Key': apiKey });

/** POST /batches/:lot/repository-reports takes what the repository acknowledged: target, time, serials. */
function repositoryReportBody(report: { target: string; reportedAt: string; serials: string[] }, manifest: Manifest) {
  return { target: report.target, reportedAt: report.reportedAt, serials: report.serials, gtin: manifest.products[0].gtin };
}

/**
 * The reconciliation baseline: one plain GROUP BY over the batch's units — the balance by status from
 * serialized_items (migrations/0100) — the least any reconciliation of the batch must read. Falls
 * back to a count over the largest table capture wrote if that schema changes.
 */
async function aggregateBaseline(pool: Pool, tables: string[], lot: string, gtin: string): Promise<{ seconds: number; sql: string }> {
  let sql: string;
  let params: string[] = [];
  if (tables.includes('serialized_items')) {
    sql =
      'SELECT status, count(*) FROM serialized_items WHERE batch_id = (SELECT id FROM batches WHERE lot = $1 AND gtin = $2) GROUP BY status';
    params = [lot, gtin];
  } else {
    const sizes = await rowCounts(pool);
    const largest = [...tables].sort((a, b) => (sizes.get(b) ?? 0) - (sizes.get(a) ?? 0))[0];
    if (!largest) throw new Error('capture wrote no rows');
    sql = `SELECT count(*) FROM "${largest}"`;
  }
  const started = performance.now();
  await pool.query(sql, params);
  return { seconds: (performance.now() - started) / 1000, sql };
}

async function main(): Promise<void> {
  const adminUrl = process.env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const dbUrl = new URL(adminUrl);
  dbUrl.pathname = `/gxp_bench_${Date.now().toString(36)}`;
  const databaseUrl = dbUrl.toString();
  const workDir = path.join(root, '.data', 'bench', `seed${seed}-${units}`);
  mkdirSync(workDir, { recursive: true });

  log(`database ${dbUrl.pathname.slice(1)}: migrating`);
  await migrate(databaseUrl);
  const pool = createPool(databaseUrl, 2);
  const machine = await describeMachine(pool);
  log(`machine: ${JSON.stringify(machine)}`);

  const config: GeneratorConfig = {
    ...DEFAULT_CONFIG,
    seed,
    units,
    plants: countsFromRate(units, rate),
    outcomes: { rejected: Math.round(units * 0.0005), sampled: Math.round(units * 0.0002), destroyed: Math.round(units * 0.0001) },
  };
  log(`generating ${units} units (rate ${rate}) into ${path.relative(root, workDir)}`);
  let started = performance.now();
  const manifest: Manifest = await generateBatch(config, workDir);
  log(
    `generated ${manifest.counts.documents} documents, ${manifest.counts.events} events, ${manifest.counts.epcs} EPCs, ${manifest.planted.length} planted in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );

  const apiKey = randomBytes(24).toString('hex');
  const apiProcess = await startApiProcess({ databaseUrl, apiKey, policyFile: unwatchedPolicyFile(workDir), cpuProfileDir: profileDir });
  const auth = captureAuthHeaders(apiKey);
  try {
    for (const p of manifest.products) expectOk('POST /products', await api(apiProcess.baseUrl, 'POST', '/products', auth, p));
    for (const b of manifest.batches.slice(0, 1)) expectOk('POST /batches', await api(apiProcess.baseUrl, 'POST', '/batches', auth, b));
    const before = await rowCounts(pool);

    // Capture, document by document, as a line's L3 system would send them.
    const bar = new SingleBar(
      { format: 'capture |{bar}| {value}/{total} documents {rate} serials/s', hideCursor: true },
      Presets.shades_classic,
    );
    bar.start(manifest.files.documents.length, 0, { rate: 0 });
    started = performance.now();
    // Each client sends its next document when the last is answered; the documents are taken in the
    // order they were generated.
    const queue = [...manifest.files.documents];
    let done = 0;
    const client = async () => {
      for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
        const r = await captureFile(apiProcess.baseUrl, path.join(workDir, f), auth);
        if (r.status >= 300) throw new Error(`capture of ${f}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 800)}`);
        done++;
        const elapsed = (performance.now() - started) / 1000;
        bar.update(done, { rate: Math.round((manifest.balance.commissioned * (done / manifest.files.documents.length)) / elapsed) });
      }
    };
    await Promise.all(Array.from({ length: captureClients }, client));
    const captureSeconds = (performance.now() - started) / 1000;
    bar.stop();
    const rssAfterCapture = await apiProcess.rss();
    // The tables capture itself wrote (the repository report posted next is not part of capture).
    const afterCapture = await rowCounts(pool);
    const captured = [...afterCapture].filter(([t, n]) => n > (before.get(t) ?? 0) && t !== 'schema_migrations').map(([t]) => t);
    log(`capture wrote to: ${captured.map((t) => `${t} (${(afterCapture.get(t) ?? 0) - (before.get(t) ?? 0)})`).join(', ')}`);

    const report = JSON.parse(readFileSync(path.join(workDir, manifest.files.repositoryReports[0] as string), 'utf8')) as {
      target: string;
      reportedAt: string;
      serials: string[];
    };
    expectOk(
      'POST repository report',
      await api(
        apiProcess.baseUrl,
        'POST',
        `/batches/${encodeURIComponent(config.lot)}/repository-reports`,
        auth,
        repositoryReportBody(report, manifest),
      ),
    );

    // Reconciliation through the API, twice: the second run must give the same content hash.
    const reconcile = async () => {
      const t0 = performance.now();
      const r = await api(apiProcess.baseUrl, 'POST', `/batches/${encodeURIComponent(config.lot)}/reconciliation`, auth);
      expectOk('POST reconciliation', r);
      return { seconds: (performance.now() - t0) / 1000, body: r.body as ReconciliationBody };
    };
    const rec1 = await reconcile();
    const rec2 = await reconcile();
    const rssEnd = await apiProcess.rss();

    const aggregate = await aggregateBaseline(pool, captured, config.lot, manifest.products[0].gtin);
    log('capture baseline: raw COPY of the same rows');
    const copy = await copyBaseline(databaseUrl, captured, workDir);

    const serials = manifest.balance.commissioned;
    const results = {
      date: new Date().toISOString(),
      code: describeCode(root),
      machine,
      batch: {
        units,
        rate,
        seed,
        unitsPerCase: config.unitsPerCase,
        casesPerPallet: config.casesPerPallet,
        documents: manifest.counts.documents,
        events: manifest.counts.events,
        epcs: manifest.counts.epcs,
        serials,
        planted: manifest.plantedByCategory,
      },
      capture: {
        seconds: round(captureSeconds),
        clients: captureClients,
        serialsPerSecond: Math.round(serials / captureSeconds),
        baselineCopySeconds: round(copy.seconds),
        baselineCopyRows: copy.rows,
        baselineSerialsPerSecond: Math.round(serials / copy.seconds),
        ratio: round(captureSeconds / copy.seconds),
        tables: captured,
        target: TARGETS.serialsPerSecond,
      },
      reconciliation: {
        seconds: round(rec1.seconds),
        secondRunSeconds: round(rec2.seconds),
        sameHash: contentHash(rec1.body) === contentHash(rec2.body),
        baselineAggregateSeconds: round(aggregate.seconds),
        baselineQuery: aggregate.sql,
        ratio: round(rec1.seconds / aggregate.seconds),
        found: discrepancyCounts(rec1.body),
        planted: manifest.plantedByCategory,
        balance: rec1.body.balance ?? null,
        plantedBalance: manifest.balance,
        target: TARGETS.reconciliationSeconds,
      },
      memory: {
        peakRssMB: mb(rssEnd.maxRss),
        peakRssAfterCaptureMB: mb(rssAfterCapture.maxRss),
        sampledPeakMB: mb(rssEnd.peakSampled),
        target: TARGETS.peakRssMB,
      },
    };
    if (profileDir) {
      console.log(
        `[bench] profiled run: capture ${results.capture.serialsPerSecond} serials/s, reconciliation ${results.reconciliation.seconds} s`,
      );
      console.log(`[bench] results not written (profiling slows the API); its CPU profile goes to ${profileDir}`);
    } else writeResults(results);
  } finally {
    await apiProcess.stop();
    await pool.end();
    if (process.env.BENCH_KEEP_DB !== '1') {
      const admin = new Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "${dbUrl.pathname.slice(1)}" WITH (FORCE)`);
      await admin.end();
    }
  }
}

const round = (n: number) => Math.round(n * 1000) / 1000;

interface ReconciliationBody {
  balance?: Record<string, number>;
  contentHash?: string;
  discrepancies?: unknown;
  [k: string]: unknown;
}

function contentHash(body: ReconciliationBody): string | undefined {
  return body.contentHash ?? (body.report as { contentHash?: string } | undefined)?.contentHash;
}

function discrepancyCounts(body: ReconciliationBody): Record<string, number> {
  const d = body.discrepancies;
  if (Array.isArray(d)) {
    const counts: Record<string, number> = {};
    for (const x of d as Array<{ category: string }>) counts[x.category] = (counts[x.category] ?? 0) + 1;
    return counts;
  }
  return (d ?? {}) as Record<string, number>;
}

function writeResults(r: {
  date: string;
  code: string;
  machine: Awaited<ReturnType<typeof describeMachine>>;
  batch: Record<string, unknown>;
  capture: {
    seconds: number;
    clients: number;
    serialsPerSecond: number;
    baselineCopySeconds: number;
    baselineSerialsPerSecond: number;
    ratio: number;
    tables: string[];
    target: number;
    baselineCopyRows: number;
  };
  reconciliation: {
    seconds: number;
    secondRunSeconds: number;
    sameHash: boolean;
    baselineAggregateSeconds: number;
    baselineQuery: string;
    ratio: number;
    found: Record<string, number>;
    planted: Record<string, number>;
    target: number;
  };
  memory: { peakRssMB: number; peakRssAfterCaptureMB: number; sampledPeakMB: number; target: number };
}): void {
  const dir = path.join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  // Date and time to the second: a run takes under a minute, and no run may overwrite another.
  const name = `capture-reconcile-${r.date.slice(0, 19).replace(/:/g, '')}`;
  writeFileSync(path.join(dir, `${name}.json`), `${JSON.stringify(r, null, 2)}\n`);
  const ok = (b: boolean) => (b ? 'met' : '**missed**');
  const md = `# Capture and reconciliation benchmark, ${r.date}

Machine: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB; ${r.machine.os}; Node ${r.machine.node}; ${r.machine.postgres}.

Code: ${r.code}.

Batch: ${JSON.stringify(r.batch)}

| measure | product | baseline (same run) | ratio | target | |
| --- | --- | --- | --- | --- | --- |
| capture through the API, ${r.capture.clients === 1 ? 'one client' : `${r.capture.clients} clients at once`} | ${r.capture.serialsPerSecond.toLocaleString('en')} serials/s (${r.capture.seconds} s) | raw COPY of the same ${r.capture.baselineCopyRows.toLocaleString('en')} rows: ${r.capture.baselineSerialsPerSecond.toLocaleString('en')} serials/s (${r.capture.baselineCopySeconds} s) | ${r.capture.ratio}× the COPY time | ≥ ${r.capture.target.toLocaleString('en')} serials/s | ${ok(r.capture.serialsPerSecond >= r.capture.target)} |
| reconciliation of the batch | ${r.reconciliation.seconds} s (second run ${r.reconciliation.secondRunSeconds} s, same hash: ${r.reconciliation.sameHash}) | one plain SQL aggregate: ${r.reconciliation.baselineAggregateSeconds} s | ${r.reconciliation.ratio}× | ≤ ${r.reconciliation.target} s | ${ok(r.reconciliation.seconds <= r.reconciliation.target)} |
| API process peak RSS | ${r.memory.peakRssMB} MB (after capture ${r.memory.peakRssAfterCaptureMB} MB) | — | — | ≤ ${r.memory.target} MB | ${ok(r.memory.peakRssMB <= r.memory.target)} |

Tables capture wrote (the COPY baseline loads the same rows into copies with the same indexes): ${r.capture.tables.join(', ')}.
Baseline aggregate: \`${r.reconciliation.baselineQuery}\`

Discrepancies found by reconciliation: ${JSON.stringify(r.reconciliation.found)}; planted: ${JSON.stringify(r.reconciliation.planted)}.

"Serials" are the batch's commissioned unit SGTINs; capture time is wall time from the first
document sent to the last answer. ${r.capture.clients === 1 ? 'One client sends the documents one after another.' : `${r.capture.clients} clients send the documents, in the order generated, each waiting for its answer before its next one; so up to ${r.capture.clients} documents are in the API at once.`}
`;
  writeFileSync(path.join(dir, `${name}.md`), md);
  process.stdout.write(`\n${md}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`[bench] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
