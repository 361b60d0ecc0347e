import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Connection, type TLSConfig } from '@temporalio/client';

/** DSCSA asks for six years of records; the dev server would otherwise drop closed workflows after a day. */
export const RECORD_RETENTION = '2190d';

/** Search attributes the product sets on each deviation, so the Web UI and `temporal workflow list` can filter. */
export const SEARCH_ATTRIBUTES = { DeviationStage: 'Keyword', DeviationSeverity: 'Keyword' } as const;

export interface DevServer {
  address: string;
  uiUrl: string | null;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  cli: string;
  ip?: string;
  port?: number;
  uiPort?: number;
  /** SQLite file for persistence; in memory when omitted. */
  dbFile?: string;
  headless?: boolean;
  namespace?: string;
  startTimeoutMs?: number;
  log?: (line: string) => void;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Waits until Temporal answers and knows the namespace. `target` is an address, or the address with
 * the TLS and API key of a cluster (lib/temporal.ts's temporalConnectionOptions).
 */
export async function waitForTemporal(
  target: string | { address: string; tls?: TLSConfig; apiKey?: string },
  timeoutMs: number,
  isAlive: () => boolean = () => true,
  namespace = 'default',
): Promise<void> {
  const options = typeof target === 'string' ? { address: target } : target;
  const address = options.address;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (!isAlive()) throw new Error('the Temporal dev server exited during start-up');
    try {
      const connection = await Connection.connect({ ...options, connectTimeout: 1000 });
      try {
        await connection.workflowService.getSystemInfo({});
        await connection.workflowService.describeNamespace({ namespace });
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`Temporal at ${address} did not answer within ${timeoutMs} ms: ${String(lastError)}`);
}

/** Starts `temporal server start-dev`, waits until it answers, and raises the namespace's retention. */
export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const ip = opts.ip ?? '127.0.0.1';
  const port = opts.port ?? (await freePort());
  const uiPort = opts.headless ? null : (opts.uiPort ?? port + 1000);
  const namespace = opts.namespace ?? 'default';
  const args = ['server', 'start-dev', '--ip', ip, '--port', String(port), '--log-level', 'error'];
  if (uiPort) args.push('--ui-port', String(uiPort));
  else args.push('--headless');
  if (opts.dbFile) args.push('--db-filename', opts.dbFile);
  if (namespace !== 'default') args.push('--namespace', namespace);
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);

  const child = spawn(opts.cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = opts.log ?? (() => undefined);
  child.stdout?.on('data', (d: Buffer) => log(d.toString()));
  child.stderr?.on('data', (d: Buffer) => log(d.toString()));
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });

  const address = `${ip}:${port}`;
  const stop = () =>
    new Promise<void>((resolve) => {
      if (exited) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
    });
  try {
    await waitForTemporal(address, opts.startTimeoutMs ?? 60_000, () => !exited);
    setRetention(opts.cli, address, namespace);
  } catch (err) {
    await stop();
    throw err;
  }
  return { address, uiUrl: uiPort ? `http://localhost:${uiPort}` : null, process: child, stop };
}

export function setRetention(cli: string, address: string, namespace: string): void {
  const r = spawnSync(
    cli,
    ['operator', 'namespace', 'update', '--address', address, '--namespace', namespace, '--retention', RECORD_RETENTION],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`could not set the namespace retention: ${r.stderr || r.stdout}`);
}
