/**
 * `npm start`: everything a newcomer needs on one machine — the Temporal dev server (unless
 * TEMPORAL_ADDRESS points at a cluster), the database and its migrations, the worker and the API.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { API_HEAP_FLAGS } from '../api/heap';
import { loadConfigOrExit } from '../lib/config';
import { startDevServer, waitForTemporal, type DevServer } from '../lib/dev-server';
import { temporalBinaries } from '../lib/temporal-binaries';
import { migrate } from '../db/migrate';

const root = path.resolve(__dirname, '..');
const say = (msg: string) => process.stdout.write(`[start] ${msg}\n`);

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const external = Boolean(process.env.TEMPORAL_ADDRESS);
  let devServer: DevServer | null = null;
  let uiUrl: string | null = null;

  if (external) {
    say(`using the Temporal cluster at ${config.TEMPORAL_ADDRESS}`);
    await waitForTemporal(config.TEMPORAL_ADDRESS, 30_000);
  } else {
    const dataDir = path.join(root, '.data');
    mkdirSync(dataDir, { recursive: true });
    say('starting the Temporal dev server (SQLite in .data/temporal.db)…');
    devServer = await startDevServer({
      cli: temporalBinaries().cli,
      port: 7233,
      uiPort: 8233,
      dbFile: path.join(dataDir, 'temporal.db'),
      log: (line) => process.stderr.write(line),
    });
    uiUrl = devServer.uiUrl;
  }

  say('applying database migrations…');
  const applied = await migrate(config.DATABASE_URL);
  say(applied.length ? `applied ${applied.join(', ')}` : 'database schema is up to date');

  const env = { ...process.env, TEMPORAL_ADDRESS: devServer?.address ?? config.TEMPORAL_ADDRESS };
  const children: ChildProcess[] = [];
  let stopping = false;
  const launch = (entry: string, nodeFlags: readonly string[] = []) => {
    const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', path.join(root, entry)], { env, stdio: 'inherit' });
    child.once('exit', (code) => {
      if (!stopping) {
        say(`${entry} exited with ${code}; stopping everything`);
        void shutdown(1);
      }
    });
    children.push(child);
  };

  async function shutdown(code: number): Promise<void> {
    if (stopping) return;
    stopping = true;
    say('shutting down…');
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGTERM');
          }),
      ),
    );
    await devServer?.stop();
    process.exit(code);
  }
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  launch('worker/main.ts');
  launch('api/main.ts', API_HEAP_FLAGS);

  const api = `http://localhost:${config.PORT}`;
  say('────────────────────────────────────────────────────────────');
  say(`API:             ${api}   (try: curl ${api}/health)`);
  say(`Temporal Web UI: ${uiUrl ?? '(your cluster’s own UI)'}`);
  say('Press Ctrl+C to stop.');
  say('────────────────────────────────────────────────────────────');
}

main().catch((err: unknown) => {
  process.stderr.write(`[start] ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
