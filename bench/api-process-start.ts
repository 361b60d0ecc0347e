import { fork } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { API_HEAP_FLAGS } from '../api/heap';

export interface ApiProcess {
  baseUrl: string;
  /** The process's peak RSS: the kernel's high-water mark and the highest the process sampled. */
  rss(): Promise<{ maxRss: number; peakSampled: number }>;
  stop(): Promise<void>;
}

/**
 * Starts bench/api-process.ts: the API as api/main.ts builds it, in a process of its own so that its
 * peak RSS is the API's alone, with no Temporal server (capture and reconciliation need none).
 * With `cpuProfileDir`, the process writes a V8 CPU profile there when it stops.
 */
export async function startApiProcess(opts: {
  databaseUrl: string;
  apiKey: string;
  policyFile: string;
  cpuProfileDir?: string | null;
}): Promise<ApiProcess> {
  const child = fork(path.join(__dirname, 'api-process.ts'), [], {
    execArgv: [...API_HEAP_FLAGS, ...(opts.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfileDir}`] : []), '--import', 'tsx'],
    env: {
      ...process.env,
      DATABASE_URL: opts.databaseUrl,
      CAPTURE_API_KEY: opts.apiKey,
      POLICY_FILE: opts.policyFile,
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [msg] = (await once(child, 'message')) as [{ type: string; port: number }];
  return {
    baseUrl: `http://127.0.0.1:${msg.port}`,
    async rss() {
      child.send({ type: 'rss' });
      const [m] = (await once(child, 'message')) as [{ maxRss: number; peakSampled: number }];
      return m;
    },
    async stop() {
      child.send({ type: 'stop' });
      await once(child, 'exit');
    },
  };
}
