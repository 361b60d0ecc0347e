/** `npm run migrate`: creates the database if needed and applies pending migrations. */
import { loadConfigOrExit } from '../lib/config';
import { migrate } from '../db/migrate';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const applied = await migrate(config.DATABASE_URL);
  process.stdout.write(applied.length ? `Applied migrations: ${applied.join(', ')}\n` : 'Database schema is up to date.\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`Migration failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
