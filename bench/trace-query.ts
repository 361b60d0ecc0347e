/**
 * npm run bench:trace — latency of the EPCIS query interface and the trace on a 1,000,000-unit batch,
 * through the API, each figure beside baselines measured in the same run on the same rows:
 *   requests   GET /epcis/epcs/{epc}/events and GET /trace/{epc} of units, cases and pallets spread over
 *              the batch, GET /epcis/events?MATCH_epc= of a unit and a lot's first page: one request at a
 *              time, one of each kind a round; p50 and p99
 *   baseline   GET /epcis/events/{eventID}: one event by its unique key, through the same HTTP,
 *              authentication and rebuilding (the least a query of the interface costs)
 *   indexes    the SQL that finds what names a unit and a pallet (db/identifier-events.ts), with
 *              migration 1900's indexes and, in a transaction rolled back, without them
 * Runs in a database of its own (created and migrated here, dropped at the end unless BENCH_KEEP_DB=1);
 * the batch is generated as `npm run bench` generates it (scripts/generate-batch.ts's generator), into
 * .data/bench, and reused when already there. Results: bench/results/trace-query-<date and time>.{json,md}.
 *
 * Environment: BENCH_UNITS (default 1000000), BENCH_SEED (1), BENCH_SAMPLES (200 requests of each
 * kind), BENCH_ADMIN_URL (postgres://postgres@127.0.0.1:5432/postgres).
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import os from 'node:os';
import { createReadStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { API_HEAP_FLAGS } from '../api/heap';
import { createApiKey } from '../auth/api-keys';
import { createUser } from '../auth/users';
import { listsNamingSql } from '../db/identifier-events';
import { migrate } from '../db/migrate';
import { createPool, type Pool } from '../db/pool';
import { MATCH_ROLES, type IdentifierKey } from '../domain/epcis-query';
import { formatSgtinUrn, formatSsccUrn } from '../domain/gs1';
import { captureDocument } from '../epcis/capture';
import { DEFAULT_CONFIG, countsFromRate, type GeneratorConfig } from '../lib/generator/plan';
import { generateBatch, type Manifest } from '../lib/generator/write';
import { describeCode } from './code-version';
import { describeMachine } from './machine';

const root = path.resolve(__dirname, '..');
const units = Number(process.env.BENCH_UNITS ?? 1_000_000);
const seed = Number(process.env.BENCH_SEED ?? 1);
const samples = Number(process.env.BENCH_SAMPLES ?? 200);
const TARGET_MS = 100;

const log = (msg: string) => process.stdout.write(`[bench:trace] ${msg}\n`);
const round = (n: number) => Math.round(n * 100) / 100;

/** The indexes of migrations/1900, dropped (in a transaction rolled back) for the baseline. */
const MIGRATION_1900_INDEXES = [
  'epcis_event_identifiers_sscc_keys_idx',
  'epcis_event_identifiers_unit_keys_idx',
  'epcis_event_identifiers_other_epcs_idx',
  'epcis_events_event_time_idx',
  'epcis_events_lot_idx',
  'epcis_documents_captured_at_idx',
];

interface ApiProcess {
  baseUrl: string;
  stop(): Promise<void>;
}

async function startApi(databaseUrl: string): Promise<ApiProcess> {
  const child = fork(path.join(__dirname, 'api-process.ts'), [], {
    execArgv: [...API_HEAP_FLAGS, '--import', 'tsx'],
    env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn', NODE_ENV: 'production' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [msg] = (await once(child, 'message')) as [{ port: number }];
  return {
    baseUrl: `http://127.0.0.1:${msg.port}`,
    async stop() {
      child.send({ type: 'stop' });
      await once(child, 'exit');
    },
  };
}

/** p50 and p99 of the samples (nearest rank), in milliseconds. */
function percentiles(ms: number[]): { p50: number; p99: number; max: number; n: number } {
  const sorted = [...ms].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
  return { p50: round(rank(50)), p99: round(rank(99)), max: round(sorted[sorted.length - 1]!), n: sorted.length };
}

async function timeRequests(baseUrl: string, headers: Record<string, string>, urls: string[]): Promise<number[]> {
  const times: number[] = [];
  for (const url of urls) {
    const t0 = performance.now();
    const res = await fetch(new URL(url, baseUrl), { headers });
    const text = await res.text();
    times.push(performance.now() - t0);
    if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status} ${text.slice(0, 500)}`);
  }
  return times;
}

async function timeSql(pool: Pool, keys: IdentifierKey[]): Promise<number[]> {
  const times: number[] = [];
  for (const key of keys) {
    const params: unknown[] = [];
    const t0 = performance.now();
    const sql = await listsNamingSql(pool, key, MATCH_ROLES.MATCH_anyEPC, params);
    await pool.query(`SELECT count(*) FROM (${sql}) n`, params);
    times.push(performance.now() - t0);
  }
  return times;
}

/** The same lookups without migration 1900's indexes: dropped in a transaction that is rolled back. */
async function timeSqlWithoutIndexes(pool: Pool, keys: IdentifierKey[]): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    for (const index of MIGRATION_1900_INDEXES) await client.query(`DROP INDEX ${index}`);
    const times: number[] = [];
    for (const key of keys) {
      const params: unknown[] = [];
      const t0 = performance.now();
      const sql = await listsNamingSql(client, key, MATCH_ROLES.MATCH_anyEPC, params);
      await client.query(`SELECT count(*) FROM (${sql}) n`, params);
      times.push(performance.now() - t0);
    }
    return times;
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
}

const pick = <T>(rows: T[], n: number): T[] => Array.from({ length: n }, (_, i) => rows[(i * 7919) % rows.length]!);

async function main(): Promise<void> {
  const adminUrl = process.env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const dbUrl = new URL(adminUrl);
  dbUrl.pathname = `/gxp_bench_trace_${Date.now().toString(36)}`;
  const databaseUrl = dbUrl.toString();
  const workDir = path.join(root, '.data', 'bench', `seed${seed}-${units}`);
  mkdirSync(workDir, { recursive: true });

  log(`database ${dbUrl.pathname.slice(1)}: migrating`);
  // (what else the machine was doing: on a shared machine every figure moves with it, the baseline's too)
  const loadBefore = os.loadavg().map(round);
  await migrate(databaseUrl);
  const pool = createPool(databaseUrl, 2);
  let api: ApiProcess | null = null;
  try {
    const machine = await describeMachine(pool);
    const config: GeneratorConfig = { ...DEFAULT_CONFIG, seed, units, plants: countsFromRate(units, 0.005) };
    const manifestFile = path.join(workDir, 'manifest.json');
    let manifest: Manifest;
    const existing = existsSync(manifestFile) ? (JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest) : null;
    if (existing && existing.config.units === units && existing.config.seed === seed) {
      manifest = existing;
      log(`reusing the batch in ${path.relative(root, workDir)}`);
    } else {
      log(`generating ${units} units into ${path.relative(root, workDir)}`);
      manifest = await generateBatch(config, workDir);
    }

    log(`capturing ${manifest.counts.documents} documents (${manifest.counts.events} events)`);
    const started = performance.now();
    for (const f of manifest.files.documents) {
      const r = await captureDocument(pool, createReadStream(path.join(workDir, f)), { maxBytes: 2 ** 31, capturedBy: 'bench' });
      if (!r.ok) throw new Error(`capture of ${f}: ${JSON.stringify(r.problems.slice(0, 3))}`);
    }
    const captureSeconds = (performance.now() - started) / 1000;
    log(`captured in ${captureSeconds.toFixed(1)} s`);
    await pool.query('ANALYZE');

    // What to ask for: units, cases and pallets of the main batch, and events, spread over the batch.
    const gtin = manifest.products[0].gtin;
    const { rows: unitRows } = await pool.query<{ serial: string }>(
      `SELECT serial FROM serialized_items WHERE gtin = $1 AND parent_sscc IS NOT NULL ORDER BY serial LIMIT 20000`,
      [gtin],
    );
    const { rows: packageRows } = await pool.query<{ sscc: string; level: string }>(
      `SELECT sscc, level FROM packages WHERE level IN ('case', 'pallet') ORDER BY sscc`,
    );
    const { rows: eventRows } = await pool.query<{ event_id: string }>(`SELECT event_id FROM epcis_events ORDER BY id LIMIT 20000`);
    const unitKeys = pick(unitRows, samples).map((r) => ({ kind: 'sgtin' as const, gtin, serial: r.serial }));
    const cases = pick(
      packageRows.filter((p) => p.level === 'case'),
      samples,
    ).map((r) => r.sscc);
    const pallets = pick(
      packageRows.filter((p) => p.level === 'pallet'),
      samples,
    ).map((r) => r.sscc);
    const eventIds = pick(eventRows, samples).map((r) => r.event_id);
    const prefixLength = config.companyPrefix.length;
    const unitUrn = (k: { gtin: string; serial: string }) => formatSgtinUrn(k.gtin, k.serial, prefixLength);
    const ssccUrn = (s: string) => formatSsccUrn(s, prefixLength);
    const enc = encodeURIComponent;

    // An auditor's API key: the trace is for people's roles, and API keys may hold the auditor's.
    const admin = await createUser(pool, {
      login: 'bench.admin',
      password: randomBytes(18).toString('base64url'),
      printedName: 'Bench Admin',
      email: 'bench.admin@example.com',
      roles: ['admin'],
    });
    const key = await createApiKey(pool, { name: 'bench auditor', roles: ['auditor'] }, admin.id);
    const headers = { 'X-API-Key': key.key };
    api = await startApi(databaseUrl);
    const base = api.baseUrl;

    const kinds: Array<[string, string[]]> = [
      ['GET /epcis/events/{eventID} (baseline)', eventIds.map((e) => `/epcis/events/${enc(e)}`)],
      ['GET /epcis/epcs/{unit}/events', unitKeys.map((k) => `/epcis/epcs/${enc(unitUrn(k))}/events`)],
      ['GET /epcis/epcs/{case}/events', cases.map((s) => `/epcis/epcs/${enc(ssccUrn(s))}/events`)],
      ['GET /epcis/epcs/{pallet}/events', pallets.map((s) => `/epcis/epcs/${enc(ssccUrn(s))}/events`)],
      ['GET /epcis/events?MATCH_epc={unit}', unitKeys.map((k) => `/epcis/events?MATCH_epc=${enc(unitUrn(k))}`)],
      [
        'GET /epcis/events?EQ_ILMD_cbvmda:lotNumber={lot}&perPage=100 (first page)',
        unitKeys.map(() => `/epcis/events?EQ_ILMD_cbvmda:lotNumber=${enc(config.lot)}&perPage=100`),
      ],
      ['GET /trace/{unit}', unitKeys.map((k) => `/trace/${enc(unitUrn(k))}`)],
      ['GET /trace/{case}', cases.map((s) => `/trace/${enc(ssccUrn(s))}`)],
      ['GET /trace/{pallet}', pallets.map((s) => `/trace/${enc(ssccUrn(s))}`)],
    ];
    for (const [, urls] of kinds) await timeRequests(base, headers, urls.slice(0, 20)); // warm-up
    // Round by round, one request of each kind: whatever else the machine does meanwhile weighs on
    // every kind alike, the baseline included.
    const times = kinds.map(() => [] as number[]);
    for (let i = 0; i < samples; i++) {
      for (let k = 0; k < kinds.length; k++) times[k]!.push(...(await timeRequests(base, headers, [kinds[k]![1][i]!])));
    }
    const requests: Record<string, ReturnType<typeof percentiles>> = {};
    kinds.forEach(([name], k) => {
      requests[name] = percentiles(times[k]!);
      log(`${name}: p50 ${requests[name]!.p50} ms, p99 ${requests[name]!.p99} ms`);
    });
    await api.stop();
    api = null;

    const palletKeys = pallets.map((sscc) => ({ kind: 'sscc' as const, sscc }));
    const lookups = {
      unitWithIndexes: percentiles(await timeSql(pool, unitKeys)),
      unitWithoutIndexes: percentiles(await timeSqlWithoutIndexes(pool, unitKeys.slice(0, 20))),
      palletWithIndexes: percentiles(await timeSql(pool, palletKeys)),
      palletWithoutIndexes: percentiles(await timeSqlWithoutIndexes(pool, palletKeys.slice(0, 20))),
    };
    log(`lookups: ${JSON.stringify(lookups)}`);

    const results = {
      date: new Date().toISOString(),
      code: describeCode(root),
      machine,
      batch: {
        units,
        seed,
        documents: manifest.counts.documents,
        events: manifest.counts.events,
        cases: manifest.counts.cases,
        pallets: manifest.counts.pallets,
      },
      loadAverage: { before: loadBefore, after: os.loadavg().map(round), cores: os.cpus().length },
      captureSeconds: round(captureSeconds),
      samplesPerKind: samples,
      targetMs: TARGET_MS,
      requests,
      lookups,
    };
    writeResults(results);
  } finally {
    await api?.stop();
    await pool.end();
    if (process.env.BENCH_KEEP_DB !== '1') {
      const adminClient = new Client({ connectionString: adminUrl });
      await adminClient.connect();
      await adminClient.query(`DROP DATABASE IF EXISTS "${dbUrl.pathname.slice(1)}" WITH (FORCE)`);
      await adminClient.end();
    }
  }
}

type Percentiles = ReturnType<typeof percentiles>;

function writeResults(r: {
  date: string;
  code: string;
  machine: Awaited<ReturnType<typeof describeMachine>>;
  batch: Record<string, number>;
  loadAverage: { before: number[]; after: number[]; cores: number };
  captureSeconds: number;
  samplesPerKind: number;
  targetMs: number;
  requests: Record<string, Percentiles>;
  lookups: Record<string, Percentiles>;
}): void {
  const dir = path.join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const name = `trace-query-${r.date.slice(0, 19).replace(/:/g, '')}`;
  writeFileSync(path.join(dir, `${name}.json`), `${JSON.stringify(r, null, 2)}\n`);
  const baseline = Object.values(r.requests)[0]!;
  const rows = Object.entries(r.requests)
    .map(
      ([k, p]) =>
        `| ${k} | ${p.p50} | ${p.p99} | ${p.max} | ${round(p.p50 / baseline.p50)}× | ${p.p99 <= r.targetMs ? 'met' : '**missed**'} |`,
    )
    .join('\n');
  const l = r.lookups;
  const md = `# Query and trace latency, ${r.date}

Machine: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB; ${r.machine.os}; Node ${r.machine.node}; ${r.machine.postgres}.

Code: ${r.code}.

Load average (1, 5, 15 minutes) on its ${r.loadAverage.cores} cores: ${r.loadAverage.before.join(', ')} before the run, ${r.loadAverage.after.join(', ')} after.

Batch: ${JSON.stringify(r.batch)}, captured in ${r.captureSeconds} s (in-process, one client). ${r.samplesPerKind} requests of each kind through the API, one at a time, one of each kind a round, after 20 of each to warm up; target p99 ≤ ${r.targetMs} ms.

| request | p50 ms | p99 ms | max ms | p50 vs the baseline | p99 target |
| --- | --- | --- | --- | --- | --- |
${rows}

The first row is the baseline measured in the same run: one event by its unique key, through the same HTTP, authentication and rebuilding.

What names a unit or a pallet (the SQL of db/identifier-events.ts, counted, without HTTP):

| lookup | with migration 1900's indexes: p50 / p99 ms | without them (same run, rolled back): p50 / p99 ms |
| --- | --- | --- |
| a unit | ${l.unitWithIndexes!.p50} / ${l.unitWithIndexes!.p99} | ${l.unitWithoutIndexes!.p50} / ${l.unitWithoutIndexes!.p99} (${l.unitWithoutIndexes!.n} samples) |
| a pallet | ${l.palletWithIndexes!.p50} / ${l.palletWithIndexes!.p99} | ${l.palletWithoutIndexes!.p50} / ${l.palletWithoutIndexes!.p99} (${l.palletWithoutIndexes!.n} samples) |
`;
  writeFileSync(path.join(dir, `${name}.md`), md);
  log(`results: bench/results/${name}.{json,md}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
