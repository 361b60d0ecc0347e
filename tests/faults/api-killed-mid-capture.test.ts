import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEFAULT_CONFIG } from '../../lib/generator/plan';
import { generateBatch, type Manifest } from '../../lib/generator/write';
import { CAPTURE_KEY } from '../epcis/helpers';
import { eventually, startStack, testConfig, type TestStack } from '../helpers/stack';
import { databaseUrlNamed, startApiProcess, type ServiceProcess } from './helpers';

/**
 * The API process is killed (kill -9) while a large EPCIS document streams into POST
 * /epcis/capture. Capture is one transaction: nothing of the document is kept, not one event.
 * Once the API is started again, `npm run import` sends the file and it is stored whole, its
 * events once; sent yet again, nothing is applied twice.
 */
const root = path.resolve(__dirname, '../..');
/** One document of about 10,000 events (15 MB): seconds of streaming, time to kill the API in the middle. */
const UNITS = 100_000;
const API_CONNECTIONS = `fault-api-${Date.now().toString(36)}`;
const LOT = `LOT-A${Date.now().toString(36).toUpperCase().slice(-7)}`;

let stack: TestStack;
let dir: string;
let manifest: Manifest;
let document: string;
const apis: ServiceProcess[] = [];

const startApi = async () => {
  const api = await startApiProcess({
    DATABASE_URL: databaseUrlNamed(stack.config.DATABASE_URL, API_CONNECTIONS),
    TEMPORAL_ADDRESS: stack.config.TEMPORAL_ADDRESS,
    TEMPORAL_TASK_QUEUE: stack.config.TEMPORAL_TASK_QUEUE,
    CAPTURE_API_KEY: CAPTURE_KEY,
  });
  apis.push(api);
  return api;
};

beforeAll(async () => {
  stack = await startStack({ worker: false, config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY }) });
  dir = mkdtempSync(path.join(tmpdir(), 'fault-api-'));
  manifest = await generateBatch(
    { ...DEFAULT_CONFIG, seed: Date.now() % 100_000, units: UNITS, lot: LOT, eventsPerDocument: 1_000_000 },
    dir,
  );
  expect(manifest.files.documents).toHaveLength(1);
  document = path.join(dir, manifest.files.documents[0]!);
}, 60_000);
afterAll(async () => {
  for (const api of apis) await api.stop();
  // A killed API leaves its partial copy of the body in the temporary directory (capture removes it
  // only when it ends); nothing of it is in the database, which is what this file checks.
  const left = (name: string) => apis.some((api) => name.startsWith(`epcis-capture-${api.child.pid}-`));
  for (const f of readdirSync(tmpdir()).filter(left)) rmSync(path.join(tmpdir(), f), { force: true });
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * POST /epcis/capture of the file at about 5 MB/s, as over a site's uplink: the document is still
 * arriving when the API is killed, whatever the speed of this machine. Resolves with the answer's
 * status, or the error that cut the sender off.
 */
function sendSlowly(
  url: string,
  file: string,
  onBytes: (n: number) => void,
): Promise<{ status: number } | { error: NodeJS.ErrnoException }> {
  async function* throttled() {
    for await (const chunk of createReadStream(file, { highWaterMark: 256 * 1024 })) {
      onBytes((chunk as Buffer).length);
      yield chunk as Buffer;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return new Promise((resolve) => {
    const req = request(`${url}/epcis/capture`, {
      method: 'POST',
      headers: { 'content-type': 'application/ld+json', 'content-length': String(statSync(file).size), 'x-api-key': CAPTURE_KEY },
    });
    req.once('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0 });
    });
    req.once('error', (error) => resolve({ error }));
    pipeline(Readable.from(throttled()), req).catch(() => undefined);
  });
}

function runImport(url: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/import.ts', '--url', url, '--api-key', CAPTURE_KEY, document], {
      cwd: root,
      env: { ...process.env, CI: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

it('an API killed mid-capture keeps nothing of the document; the import command then stores it whole, once', async () => {
  const first = await startApi();
  for (const [route, items] of [
    ['/products', manifest.products],
    ['/batches', manifest.batches],
  ] as const) {
    for (const item of items) {
      const res = await fetch(`${first.url}${route}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': CAPTURE_KEY },
        body: JSON.stringify(item),
      });
      expect([201, 409]).toContain(res.status);
    }
  }

  const size = statSync(document).size;
  const sha256 = createHash('sha256').update(readFileSync(document)).digest('hex');
  const eventIds = (
    JSON.parse(readFileSync(document, 'utf8')) as { epcisBody: { eventList: Array<{ eventID: string }> } }
  ).epcisBody.eventList.map((e) => e.eventID);
  expect(eventIds.length).toBe(manifest.counts.events);

  let sent = 0;
  const capture = sendSlowly(first.url, document, (n) => (sent += n));
  // A third of the document sent, its capture transaction open and staging events: kill -9.
  await eventually(async () => (sent >= size / 3 ? true : undefined), 60_000, 5);
  const staging = await stack.pool.query(
    `SELECT 1 FROM pg_stat_activity
      WHERE datname = current_database() AND application_name = $1 AND xact_start IS NOT NULL AND query LIKE 'COPY capture_stage%'`,
    [API_CONNECTIONS],
  );
  await first.kill9();
  expect(staging.rowCount).toBe(1);
  expect(sent).toBeLessThan(size);
  // The sender is cut off without an answer.
  expect(await capture).toEqual({ error: expect.objectContaining({ code: expect.stringMatching(/^(ECONNRESET|EPIPE)$/) }) });

  // PostgreSQL ends the dead API's sessions; their transactions end with them, uncommitted.
  await eventually(async () => {
    const { rows } = await stack.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1',
      [API_CONNECTIONS],
    );
    return rows[0]!.n === 0 ? true : undefined;
  }, 30_000);
  const stored = async () => ({
    documents: (await stack.pool.query('SELECT event_count FROM epcis_documents WHERE sha256 = $1', [sha256])).rows,
    events: (
      await stack.pool.query<{ n: number; distinct: number }>(
        'SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS distinct FROM epcis_events WHERE event_id = ANY ($1)',
        [eventIds],
      )
    ).rows[0],
  });
  expect(await stored()).toEqual({ documents: [], events: { n: 0, distinct: 0 } });
  const units = await stack.pool.query(
    'SELECT 1 FROM serialized_items s JOIN batches b ON b.id = s.batch_id WHERE b.lot = $1 AND b.gtin = $2 LIMIT 1',
    [LOT, manifest.products[0].gtin],
  );
  expect(units.rowCount).toBe(0);

  const second = await startApi();
  const imported = await runImport(second.url);
  expect({ code: imported.code, stderr: imported.stderr }).toEqual({ code: 0, stderr: '' });
  expect(imported.stdout).toContain(`1 documents captured, 0 refused: ${manifest.counts.events} events`);
  const once = { documents: [{ event_count: manifest.counts.events }], events: { n: eventIds.length, distinct: eventIds.length } };
  expect(await stored()).toEqual(once);

  // Sent again: recognised, nothing applied twice.
  const again = await runImport(second.url);
  expect(again.code).toBe(0);
  expect(await stored()).toEqual(once);
}, 150_000);
