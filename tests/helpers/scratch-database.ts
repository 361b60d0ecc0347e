import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { Client } from 'pg';

const root = path.resolve(__dirname, '..', '..');
const adminUrl = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface ScratchDatabase {
  url: string;
  drop(): Promise<void>;
}

/**
 * A database of the suite's own, migrated as `npm run migrate` would: for a suite whose assertions
 * depend on which documents were captured first, which the shared test database cannot promise.
 */
export async function scratchDatabase(label: string): Promise<ScratchDatabase> {
  const name = `gxp_${label}_${process.pid}_${Date.now().toString(36)}`;
  const url = Object.assign(new URL(adminUrl), { pathname: `/${name}` }).toString();
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'scripts/migrate.ts')], {
    env: { ...process.env, DATABASE_URL: url },
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`migrating ${name} failed: ${run.stderr}${run.stdout}`);
  return {
    url,
    async drop() {
      const client = new Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
