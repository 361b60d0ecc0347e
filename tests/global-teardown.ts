import { rmSync } from 'node:fs';
import { Client } from 'pg';
import type { DevServer } from '../lib/dev-server';

interface TestGlobals {
  devServer: DevServer;
  adminUrl: string;
  dbName: string;
  bundlePath: string;
}

export default async function globalTeardown(): Promise<void> {
  const g = (globalThis as Record<string, unknown>).__gxpTest as TestGlobals | undefined;
  if (!g) return;
  await g.devServer.stop();
  rmSync(g.bundlePath, { force: true });
  if (process.env.KEEP_TEST_DATABASE) return;
  const admin = new Client({ connectionString: g.adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${g.dbName}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
