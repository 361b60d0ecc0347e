/**
 * Re-records the replay fixtures (tests/replay/histories/*.json) from real runs: a dev server of
 * its own, a scratch database, the worker with the current workflow code, and the API under the
 * compressed test policy drive every scenario of tests/replay/scenarios.ts.
 *
 *   npm run record-histories            all scenarios not marked pending
 *   npm run record-histories -- NAME…   only these
 *
 * Recorded histories are kept as the API's history export ({workflowId, runs: [...]}), each run
 * in the CLI's proto3 JSON.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, bundleWorkflowCode } from '@temporalio/worker';
import { Client as PgClient } from 'pg';
import request from 'supertest';
import { createApp } from '../api/app';
import { createUser } from '../auth/users';
import { loadWorkflowRecord, recordToJson } from '../audit/history';
import { createPool } from '../db/pool';
import { migrate } from '../db/migrate';
import { loadConfig } from '../lib/config';
import { startDevServer } from '../lib/dev-server';
import { createLogger } from '../lib/logger';
import { loadPolicy } from '../lib/policy';
import { temporalBinaries } from '../lib/temporal-binaries';
import { createWorker } from '../worker/create-worker';
import { SCENARIOS, scenarioContext } from '../tests/replay/scenarios';

const root = path.resolve(__dirname, '..');
const HISTORIES = path.join(root, 'tests', 'replay', 'histories');
const log = (m: string) => process.stderr.write(`[record] ${m}\n`);

async function main(names: string[]): Promise<void> {
  const scenarios = names.length ? SCENARIOS.filter((s) => names.includes(s.name)) : SCENARIOS.filter((s) => !s.pending);
  for (const s of SCENARIOS) if (!names.length && s.pending) log(`${s.name}: skipped (pending: ${s.pending})`);
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length) throw new Error(`unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);

  Runtime.install({ logger: new DefaultLogger('WARN') });
  const adminUrl = process.env.RECORD_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const dbName = `gxp_record_${process.pid}_${Date.now().toString(36)}`;
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  const databaseUrl = url.toString();

  log('starting a dev server, a scratch database and the workflow bundle');
  const [devServer, bundle] = await Promise.all([
    startDevServer({ cli: temporalBinaries().cli, headless: true, startTimeoutMs: 90_000 }),
    bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: new DefaultLogger('WARN') }),
    migrate(databaseUrl),
  ]);
  const config = loadConfig({ ...process.env, TEMPORAL_ADDRESS: devServer.address, DATABASE_URL: databaseUrl, TEMPORAL_TASK_QUEUE: 'record-histories', LOG_LEVEL: 'silent' });
  const pool = createPool(databaseUrl, 5);
  const native = await NativeConnection.connect({ address: devServer.address });
  const connection = await Connection.connect({ address: devServer.address });
  const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const worker = await createWorker({ connection: native, pool, namespace: config.TEMPORAL_NAMESPACE, taskQueue: config.TEMPORAL_TASK_QUEUE, workflowBundle: { code: bundle.code } });
  const app = createApp({ config, pool, temporal, log: createLogger('record', 'silent'), policy: loadPolicy(path.join(root, 'policies', 'compressed.json')) });
  try {
  // One signed-in user per role the scenarios act as; the scratch database starts with nobody.
  const tokens: Record<string, string> = {};
  for (const role of ['qa_lead', 'qa_head', 'qa_approver', 'investigator', 'capa_owner'] as const) {
    const login = `${role.replace(/_/g, '.')}.recorder`;
    const password = `Rec-${Math.random().toString(36).slice(2)}-${Date.now().toString(36)}-Aa1!`;
    await createUser(pool, { login, password, printedName: `Recorder ${role}`, email: `${login}@example.com`, roles: [role] });
    const res = await request(app).post('/auth/login').send({ login, password });
    if (res.status !== 200) throw new Error(`signing in as ${login} failed: ${res.status} ${JSON.stringify(res.body)}`);
    tokens[role] = res.body.token as string;
  }
    await worker.runUntil(async () => {
      mkdirSync(HISTORIES, { recursive: true });
      for (const scenario of scenarios) {
        log(`${scenario.name}: ${scenario.description}`);
        const id = await scenario.run(scenarioContext(app, temporal, tokens));
        const record = await loadWorkflowRecord({ temporal, pool }, id);
        if (!record) throw new Error(`${scenario.name}: no history for ${id}`);
        const file = path.join(HISTORIES, `${scenario.name}.json`);
        writeFileSync(file, `${JSON.stringify({ scenario: scenario.name, description: scenario.description, ...JSON.parse(recordToJson(record)) }, null, 2)}\n`);
        log(`${scenario.name}: ${record.runs.length} run(s), ${record.runs.reduce((n, r) => n + (r.history.events?.length ?? 0), 0)} events → ${path.relative(root, file)}`);
      }
    });
  } finally {
    await connection.close();
    await native.close();
    await pool.end();
    await devServer.stop();
    const admin = new PgClient({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`).finally(() => admin.end());
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`[record] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
