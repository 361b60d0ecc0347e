import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';

/**
 * Every migration can be taken back and applied again: up, all the way down, up. Run as an operator
 * would (`npm run migrate`, `npm run migrate -- down all`), on a scratch database of its own.
 */
const root = path.resolve(__dirname, '..', '..');
const adminUrl = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const dbName = `gxp_migrations_${process.pid}_${Date.now().toString(36)}`;
const databaseUrl = Object.assign(new URL(adminUrl), { pathname: `/${dbName}` }).toString();

function migrateCli(...args: string[]): string {
  const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'scripts/migrate.ts'), ...args], {
    env: { ...process.env, DATABASE_URL: databaseUrl },
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`migrate ${args.join(' ')} failed: ${run.stderr}${run.stdout}`);
  return run.stdout;
}

async function schema(): Promise<{ tables: string[]; applied: number }> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const tables = await db.query<{ name: string }>(
      `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'schema_migrations' ORDER BY 1`,
    );
    const applied = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
    return { tables: tables.rows.map((r) => r.name), applied: applied.rows[0]!.n };
  } finally {
    await db.end();
  }
}

afterAll(async () => {
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
  await admin.end();
});

it('applies every migration, undoes them all, and applies them again to the same schema', async () => {
  const files = readdirSync(path.join(root, 'migrations')).filter((f) => f.endsWith('.sql'));
  expect(migrateCli()).toMatch(/^Applied migrations: /);
  const up = await schema();
  expect(up.applied).toBe(files.length);
  expect(up.tables).toEqual(expect.arrayContaining(['deviations', 'batch_metrics', 'reconciliation_reports', 'signature_ledger']));

  expect(migrateCli('down', 'all')).toMatch(/^Undid migrations: /);
  expect(await schema()).toEqual({ tables: [], applied: 0 });

  migrateCli();
  expect(await schema()).toEqual(up);
  expect(migrateCli()).toBe('Database schema is up to date.\n');
}, 120_000);

it('refuses a rollback that does not say how many', () => {
  expect(() => migrateCli('down')).toThrow(/say how many/);
  expect(() => migrateCli('sideways')).toThrow(/unknown command/);
});
