import path from 'node:path';
import { Client } from 'pg';
import { runner } from 'node-pg-migrate';

export const MIGRATIONS_DIR = path.resolve(__dirname, '..', 'migrations');

/** Creates the database named in the URL when it does not exist yet. */
export async function ensureDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(name)) {
    throw new Error(`Refusing to create a database with the name "${name}"`);
  }
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) {
      // Identifiers cannot be bound as parameters; the name was checked against a strict pattern above.
      await admin.query(`CREATE DATABASE "${name}"`).catch((err: { code?: string }) => {
        if (err.code !== '42P04') throw err; // created meanwhile by another process
      });
    }
  } finally {
    await admin.end();
  }
}

/** Applies every pending migration under migrations/, in file-name order. */
export async function migrate(databaseUrl: string, log: (msg: string) => void = () => undefined): Promise<string[]> {
  await ensureDatabase(databaseUrl);
  return run(databaseUrl, 'up', Infinity, log);
}

/**
 * Undoes the newest `count` applied migrations (their "Down Migration" parts), newest first. For a
 * release that must be taken back; every migration's down part is exercised by the test suite.
 */
export async function rollback(databaseUrl: string, count: number, log: (msg: string) => void = () => undefined): Promise<string[]> {
  return run(databaseUrl, 'down', count, log);
}

async function run(databaseUrl: string, direction: 'up' | 'down', count: number, log: (msg: string) => void): Promise<string[]> {
  const applied = await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    direction,
    count,
    migrationsTable: 'schema_migrations',
    checkOrder: false,
    singleTransaction: true,
    // Several processes may start at once against one database; the second waits for the first.
    advisoryLockMode: 'wait',
    logger: { debug: () => undefined, info: log, warn: log, error: log },
  });
  return applied.map((m) => m.name);
}
