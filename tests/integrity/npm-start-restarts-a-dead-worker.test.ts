import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import path from 'node:path';
import { createPool, type Pool } from '../../db/pool';
import { eventually } from '../helpers/eventually';
import { newDeviationRequest } from '../helpers/fixtures';
import { createUser } from '../helpers/users';

/**
 * A worker that dies leaves every deviation's clocks waiting. `npm start` starts it again: here
 * its start script runs against the suite's Temporal server and database, its worker is killed,
 * and a deviation opened afterwards still reaches containment.
 */
const root = path.resolve(__dirname, '../..');
let start: ChildProcess;
let output = '';
let pool: Pool;
let port: number;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port: p } = server.address() as { port: number };
      server.close(() => resolve(p));
    });
  });
}

/** The pids of the worker processes the start script runs (its children running worker/main.ts). */
function workerPids(): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(start.pid), '-f', 'worker/main.ts'], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

beforeAll(async () => {
  pool = createPool(process.env.DATABASE_URL!, 2);
  port = await freePort();
  start = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'scripts/start.ts')], {
    cwd: root,
    env: { ...process.env, PORT: String(port), TEMPORAL_TASK_QUEUE: `start-${randomUUID()}`, LOG_LEVEL: 'silent', NODE_ENV: 'test' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  start.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  start.stderr!.on('data', () => undefined);
  await eventually(async () => (output.includes('Press Ctrl+C') ? true : undefined), 90_000, 200);
}, 120_000);

afterAll(async () => {
  if (start.exitCode === null) {
    const exited = new Promise((resolve) => start.once('exit', resolve));
    start.kill('SIGINT');
    await exited;
  }
  await pool.end();
});

it('starts the worker again when it dies, and deviations go on', async () => {
  const [first] = await eventually(async () => (workerPids().length === 1 ? workerPids() : undefined), 60_000, 200);
  process.kill(first!, 'SIGKILL');
  await eventually(async () => (output.includes('worker/main.ts exited with SIGKILL; starting it again') ? true : undefined), 20_000, 200);
  const [second] = await eventually(
    async () => (workerPids().length === 1 && workerPids()[0] !== first ? workerPids() : undefined),
    30_000,
    200,
  );
  expect(second).not.toBe(first);

  const lead = await createUser(pool, { roles: ['qa_lead'] });
  const api = `http://127.0.0.1:${port}`;
  // The start script prints its addresses as it launches the API, before the API listens.
  await eventually(async () => ((await fetch(`${api}/health`).catch(() => null)) ? true : undefined), 60_000, 250);
  const login = await fetch(`${api}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ login: lead.login, password: lead.password }),
  });
  const { token } = (await login.json()) as { token: string };
  const opened = await fetch(`${api}/deviations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(newDeviationRequest()),
  });
  expect(opened.status).toBe(201);
  const { id } = (await opened.json()) as { id: string };
  const stage = await eventually(async () => {
    const { rows } = await pool.query<{ stage: string }>('SELECT stage FROM deviations WHERE id = $1', [id]);
    return rows[0]?.stage === 'containment' ? rows[0].stage : undefined;
  }, 60_000);
  expect(stage).toBe('containment');
  expect(start.exitCode).toBeNull();
});
