/**
 * `npm start`: everything a newcomer needs on one machine — the Temporal dev server (unless
 * TEMPORAL_ADDRESS points at a cluster), the database and its migrations, the worker and the API.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { API_HEAP_FLAGS } from '../api/heap';
import { loadConfigOrExit } from '../lib/config';
import { startDevServer, waitForTemporal, type DevServer } from '../lib/dev-server';
import { temporalBinaries } from '../lib/temporal-binaries';
import { temporalConnectionOptions } from '../lib/temporal';
import { migrate } from '../db/migrate';

const root = path.resolve(__dirname, '..');
const RESTART_LIMIT = 5;
const RESTART_WINDOW_MS = 5 * 60_000;
const RESTART_DELAY_MS = 1000;
const say = (msg: string) => process.stdout.write(`[start] ${msg}\n`);

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const external = Boolean(process.env.TEMPORAL_ADDRESS);
  let devServer: DevServer | null = null;
  let uiUrl: string | null = null;

  if (external) {
    say(`using the Temporal cluster at ${config.TEMPORAL_ADDRESS}`);
    await waitForTemporal(temporalConnectionOptions(config), 30_000, undefined, config.TEMPORAL_NAMESPACE);
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

  const env: NodeJS.ProcessEnv = { ...process.env, TEMPORAL_ADDRESS: devServer?.address ?? config.TEMPORAL_ADDRESS };
  // On one machine, a key of its own for the EPCIS subscriptions' tokens, kept beside the dev server's
  // data so that subscriptions keep signing across restarts; a deployment sets its own.
  if (!external && !env.EPCIS_SUBSCRIPTION_KEY)
    env.EPCIS_SUBSCRIPTION_KEY = localSecret(path.join(root, '.data', 'epcis-subscription.key'));
  const children: ChildProcess[] = [];
  let stopping = false;
  /**
   * Starts a process and starts it again when it exits on its own: a worker stopped by its SDK
   * would otherwise leave every deviation's clocks waiting. A process that keeps failing at
   * once (bad configuration) is not restarted for ever: after RESTART_LIMIT restarts within
   * RESTART_WINDOW_MS everything stops, non-zero.
   */
  const restarts = new Map<string, number[]>();
  const launch = (entry: string, nodeFlags: readonly string[] = []) => {
    const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', path.join(root, entry)], { env, stdio: 'inherit' });
    children.push(child);
    child.once('exit', (code, signal) => {
      children.splice(children.indexOf(child), 1);
      if (stopping) return;
      const now = Date.now();
      const recent = (restarts.get(entry) ?? []).filter((t) => now - t < RESTART_WINDOW_MS);
      if (recent.length >= RESTART_LIMIT) {
        say(`${entry} exited with ${code ?? signal} ${recent.length + 1} times within ${RESTART_WINDOW_MS / 1000} s; stopping everything`);
        void shutdown(1);
        return;
      }
      restarts.set(entry, [...recent, now]);
      say(`${entry} exited with ${code ?? signal}; starting it again`);
      setTimeout(() => !stopping && launch(entry, nodeFlags), RESTART_DELAY_MS);
    });
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
  say(`Web application: ${api}/   (open it in a browser)`);
  say(`API:             ${api}   (try: curl ${api}/health)`);
  say(`Temporal Web UI: ${uiUrl ?? '(your cluster’s own UI)'}`);
  say('Press Ctrl+C to stop.');
  say('────────────────────────────────────────────────────────────');
}

main().catch((err: unknown) => {
  process.stderr.write(`[start] ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

/** A random secret kept in `file` (created on first use, readable by its owner only). */
function localSecret(file: string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}
