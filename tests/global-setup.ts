/**
 * Once per `npm test`: one Temporal dev server, one fresh PostgreSQL database with the schema, and
 * one workflow bundle. Test files read what they need from the environment set here.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { startDevServer } from '../lib/dev-server';
import { temporalBinaries } from '../lib/temporal-binaries';

const root = path.resolve(__dirname, '..');

export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  const binaries = temporalBinaries();
  const adminUrl = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const dbName = `gxp_test_${process.pid}_${Date.now().toString(36)}`;
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  const databaseUrl = url.toString();

  const [devServer, bundle] = await Promise.all([
    startDevServer({ cli: binaries.cli, headless: true, startTimeoutMs: 90_000 }),
    bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: quietLogger }),
  ]);

  // Migrations run the way `npm start` runs them, in a process of their own (the migration tool is an ES module).
  const migrated = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'scripts/migrate.ts')], {
    env: { ...process.env, DATABASE_URL: databaseUrl },
    encoding: 'utf8',
  });
  if (migrated.status !== 0) {
    await devServer.stop();
    throw new Error(`migrations failed: ${migrated.stderr}${migrated.stdout}`);
  }

  const cacheDir = path.join(root, '.tools', 'test-cache');
  mkdirSync(cacheDir, { recursive: true });
  const bundlePath = path.join(cacheDir, `workflow-bundle-${process.pid}.js`);
  writeFileSync(bundlePath, bundle.code);

  process.env.DATABASE_URL = databaseUrl;
  process.env.TEMPORAL_ADDRESS = devServer.address;
  process.env.TEMPORAL_CLI = binaries.cli;
  if (binaries.testServer) process.env.TEMPORAL_TEST_SERVER = binaries.testServer;
  process.env.TEST_WORKFLOW_BUNDLE = bundlePath;
  process.env.LOG_LEVEL = process.env.LOG_LEVEL ?? 'silent';
  (globalThis as Record<string, unknown>).__gxpTest = { devServer, databaseUrl, adminUrl, dbName, bundlePath };
  process.stdout.write(`\n[test setup] Temporal ${devServer.address}, database ${dbName}, ready in ${Date.now() - started} ms\n`);
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (m: string) => process.stderr.write(`${m}\n`),
  error: (m: string) => process.stderr.write(`${m}\n`),
};
