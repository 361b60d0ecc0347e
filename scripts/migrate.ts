/**
 * `npm run migrate`: creates the database if needed and applies pending migrations.
 * `npm run migrate -- down N` (or `down all`) undoes the newest N applied migrations.
 */
import { loadConfigOrExit } from '../lib/config';
import { migrate, rollback } from '../db/migrate';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const [command, howMany] = process.argv.slice(2);
  if (command === 'down') {
    const count = howMany === 'all' ? Infinity : Number(howMany);
    if (!(count === Infinity || (Number.isInteger(count) && count > 0))) throw new Error('say how many: `down N` (N ≥ 1) or `down all`');
    const undone = await rollback(config.DATABASE_URL, count);
    process.stdout.write(undone.length ? `Undid migrations: ${undone.join(', ')}\n` : 'No migration to undo.\n');
    return;
  }
  if (command !== undefined) throw new Error(`unknown command "${command}": run it without arguments, or with \`down N\``);
  const applied = await migrate(config.DATABASE_URL);
  process.stdout.write(applied.length ? `Applied migrations: ${applied.join(', ')}\n` : 'Database schema is up to date.\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`Migration failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
