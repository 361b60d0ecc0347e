/**
 * Re-records the replay fixtures (tests/replay/histories/*.json) from real runs: a dev server of
 * its own, a scratch database, the worker with the current workflow code, and the API under the
 * compressed test policy drive every scenario of tests/replay/scenarios.ts.
 *
 *   npm run record-histories                      every scenario
 *   npm run record-histories -- NAME…             only these
 *   npm run record-histories -- --workflows DIR --suffix before-PATCH NAME…
 *       the worker runs the workflow code of DIR (e.g. workflows/ of a `git worktree` of the
 *       commit before a patched() change, outside the repository) and the history is written as
 *       NAME.before-PATCH.json: the old deviation the patch must keep replaying (docs/replay.md)
 *
 * Recorded histories are kept as the API's history export ({workflowId, runs: [...]}), each run
 * in the CLI's proto3 JSON. The change controls a scenario's deviation starts are recorded beside it,
 * as NAME.change-control-N.json.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, bundleWorkflowCode } from '@temporalio/worker';
import { Client as PgClient } from 'pg';
import { createApp } from '../api/app';
import { loadWorkflowRecord, recordToJson } from '../audit/history';
import { createPool } from '../db/pool';
import { migrate } from '../db/migrate';
import { loadConfig } from '../lib/config';
import { startDevServer } from '../lib/dev-server';
import { createLogger } from '../lib/logger';
import { loadPolicy } from '../lib/policy';
import { temporalBinaries } from '../lib/temporal-binaries';
import { createWorker } from '../worker/create-worker';
import { SCENARIOS, createScenarioCast, scenarioContext } from '../tests/replay/scenarios';

const root = path.resolve(__dirname, '..');
const HISTORIES = path.join(root, 'tests', 'replay', 'histories');
const log = (m: string) => process.stderr.write(`[record] ${m}\n`);

interface Options {
  names: string[];
  /** A workflows/ folder other than this checkout's, to record with older workflow code. */
  workflows?: string;
  /** Appended to the file name: <scenario>.<suffix>.json. */
  suffix?: string;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { names: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--workflows' || arg === '--suffix') {
      const value = argv[++i];
      if (!value) throw new Error(`${arg} needs a value`);
      if (arg === '--workflows') opts.workflows = path.resolve(value);
      else opts.suffix = value;
    } else if (arg.startsWith('--')) throw new Error(`unknown option ${arg}`);
    else opts.names.push(arg);
  }
  if (opts.suffix !== undefined && !/^[a-z0-9][a-z0-9.-]*$/.test(opts.suffix))
    throw new Error('--suffix: lower-case letters, digits, dots and dashes');
  if (opts.workflows && !opts.suffix)
    throw new Error('--workflows needs --suffix: histories of other code must not replace the current ones');
  return opts;
}

/**
 * Bundles the workflow code to record with. Code from outside this checkout (an old worktree has
 * no node_modules of its own) resolves its packages from this checkout's node_modules.
 */
function bundleFor(workflows?: string) {
  const logger = new DefaultLogger('WARN');
  if (!workflows) return bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger });
  const modules = path.join(root, 'node_modules');
  return bundleWorkflowCode({
    workflowsPath: require.resolve(workflows),
    logger,
    webpackConfigHook: (config) => ({
      ...config,
      resolve: { ...config.resolve, modules: [...(config.resolve?.modules ?? ['node_modules']), modules] },
    }),
  });
}

async function main(opts: Options): Promise<void> {
  const { names } = opts;
  const scenarios = names.length ? SCENARIOS.filter((s) => names.includes(s.name)) : SCENARIOS;
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length) throw new Error(`unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);

  Runtime.install({ logger: new DefaultLogger('WARN') });
  const adminUrl = process.env.RECORD_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const dbName = `gxp_record_${process.pid}_${Date.now().toString(36)}`;
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  const databaseUrl = url.toString();

  // A fresh clone has no Temporal CLI yet: provision it as `npm start` and `npm test` do.
  let cli: string;
  try {
    cli = temporalBinaries().cli;
  } catch {
    log('provisioning the Temporal CLI (scripts/prepare.mjs)');
    const prepared = spawnSync(process.execPath, [path.join(root, 'scripts', 'prepare.mjs')], { cwd: root, stdio: 'inherit' });
    if (prepared.status !== 0) throw new Error(`scripts/prepare.mjs failed (exit ${prepared.status})`);
    cli = temporalBinaries().cli;
  }
  log('starting a dev server, a scratch database and the workflow bundle');
  const [devServer, bundle] = await Promise.all([
    startDevServer({ cli, headless: true, startTimeoutMs: 90_000 }),
    bundleFor(opts.workflows),
    migrate(databaseUrl),
  ]);
  if (opts.workflows) log(`workflow code from ${opts.workflows}`);
  const config = loadConfig({
    ...process.env,
    TEMPORAL_ADDRESS: devServer.address,
    DATABASE_URL: databaseUrl,
    TEMPORAL_TASK_QUEUE: 'record-histories',
    LOG_LEVEL: 'silent',
  });
  const pool = createPool(databaseUrl, 5);
  const native = await NativeConnection.connect({ address: devServer.address });
  const connection = await Connection.connect({ address: devServer.address });
  const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const worker = await createWorker({
    connection: native,
    pool,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    workflowBundle: { code: bundle.code },
  });
  const app = createApp({
    config,
    pool,
    temporal,
    log: createLogger('record', 'silent'),
    policy: loadPolicy(path.join(root, 'policies', 'compressed.json')),
  });
  try {
    // The people of the scenarios, signed in; the scratch database starts with nobody.
    const people = await createScenarioCast(app, pool);
    await worker.runUntil(async () => {
      mkdirSync(HISTORIES, { recursive: true });
      for (const scenario of scenarios) {
        log(`${scenario.name}: ${scenario.description}`);
        const started = Date.now();
        const id = await scenario.run(scenarioContext(app, temporal, people, pool));
        const record = await loadWorkflowRecord({ temporal, pool }, id);
        if (!record) throw new Error(`${scenario.name}: no history for ${id}`);
        const file = path.join(HISTORIES, `${scenario.name}${opts.suffix ? `.${opts.suffix}` : ''}.json`);
        const meta = { scenario: scenario.name, description: scenario.description, ...(opts.suffix ? { recordedWith: opts.suffix } : {}) };
        writeFileSync(file, `${JSON.stringify({ ...meta, ...JSON.parse(recordToJson(record)) }, null, 2)}\n`);
        log(
          `${scenario.name}: ${id}, ${record.runs.length} run(s), ${record.runs.reduce((n, r) => n + (r.history.events?.length ?? 0), 0)} events in ${Math.round((Date.now() - started) / 1000)} s → ${path.relative(root, file)}`,
        );
        // The change controls the deviation started, each a workflow of its own: NAME[.SUFFIX].change-control-N.json.
        const children = record.runs.flatMap((r) =>
          (r.history.events ?? []).flatMap((e) => {
            const child = e.childWorkflowExecutionStartedEventAttributes;
            return child?.workflowExecution?.workflowId && child.workflowType?.name === 'ChangeControlWorkflow'
              ? [child.workflowExecution.workflowId]
              : [];
          }),
        );
        for (const [n, childId] of children.entries()) {
          const childRecord = await loadWorkflowRecord({ temporal, pool }, childId);
          if (!childRecord) throw new Error(`${scenario.name}: no history for change control ${childId}`);
          const childFile = file.replace(/\.json$/, `.change-control-${n + 1}.json`);
          const childMeta = { ...meta, description: `change control ${n + 1} of: ${scenario.description}`, deviationId: id };
          writeFileSync(childFile, `${JSON.stringify({ ...childMeta, ...JSON.parse(recordToJson(childRecord)) }, null, 2)}\n`);
          log(`${scenario.name}: change control ${childId} → ${path.relative(root, childFile)}`);
        }
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

Promise.resolve()
  .then(() => main(parseArgs(process.argv.slice(2))))
  .then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`[record] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
