import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { Client } from 'pg';
import { createPool } from '../../db/pool';
import { checkCredentials } from '../../auth/users';

const root = path.resolve(__dirname, '..', '..');

/**
 * The command runs against a database of its own: the suite's shared database has administrators
 * from other tests, and "the first admin" only means something in an empty one.
 */
let databaseUrl: string;
let adminUrl: string;
let dbName: string;

beforeAll(() => {
  const shared = new URL(process.env.DATABASE_URL!);
  dbName = `${shared.pathname.slice(1)}_bootstrap`.slice(0, 63);
  shared.pathname = `/${dbName}`;
  databaseUrl = shared.toString();
  shared.pathname = '/postgres';
  adminUrl = shared.toString();
  const migrated = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'scripts/migrate.ts')], {
    env: { ...process.env, DATABASE_URL: databaseUrl },
    encoding: 'utf8',
  });
  if (migrated.status !== 0) throw new Error(`migrations failed: ${migrated.stderr}`);
});

afterAll(async () => {
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
  await admin.end();
});

function bootstrap(args: string[], opts: { password?: string; stdin?: string } = {}) {
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: databaseUrl };
  delete env.BOOTSTRAP_ADMIN_PASSWORD;
  if (opts.password !== undefined) env.BOOTSTRAP_ADMIN_PASSWORD = opts.password;
  return spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'scripts/bootstrap-admin.ts'), ...args], {
    env,
    input: opts.stdin ?? '',
    encoding: 'utf8',
  });
}

describe('npm run bootstrap-admin', () => {
  it('refuses a missing argument and a weak password, creating nothing', () => {
    const missing = bootstrap(['--login', 'first.admin']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/usage/);
    const weak = bootstrap(['--login', 'first.admin', '--name', 'First Admin', '--email', 'first.admin@example.com'], { stdin: 'admin\n' });
    expect(weak.status).toBe(2);
    expect(weak.stderr).toMatch(/password: a password has at least 12 characters/);
  });

  it('creates the first administrator from a password on standard input, then refuses a second', async () => {
    const password = 'tulips in the spring rain';
    const first = bootstrap(['--login', 'First.Admin', '--name', 'Fiona Admin', '--email', 'fiona@example.com'], {
      stdin: `${password}\n`,
    });
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/Created administrator first\.admin \(Fiona Admin\)/);
    expect(first.stdout + first.stderr).not.toContain(password);

    const pool = createPool(databaseUrl, 1);
    try {
      const user = await checkCredentials(pool, 'first.admin', password);
      expect(user).toMatchObject({ login: 'first.admin', roles: ['admin'], active: true });
    } finally {
      await pool.end();
    }

    const second = bootstrap(['--login', 'second.admin', '--name', 'Sam Second', '--email', 'sam@example.com'], {
      password: 'another strong passphrase',
    });
    expect(second.status).toBe(3);
    expect(second.stderr).toMatch(/administrator exists already/);
  });
});
