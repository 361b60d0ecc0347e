import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { DEFAULT_CONFIG, PLANT_KINDS } from '../../lib/generator/plan';
import { generateBatch, type Manifest } from '../../lib/generator/write';
import { startStack, testConfig, type TestStack } from '../helpers/stack';
import { signedInUser } from '../helpers/users';
import { CAPTURE_KEY } from './helpers';

/**
 * `npm run import -- FILE…` as a user runs it: a process of its own sending generated documents to
 * a listening API, with a summary at the end, and a failing exit status naming a refused file.
 */
let stack: TestStack;
let server: Server;
let baseUrl: string;
let dir: string;
let manifest: Manifest;
const LOT = `LOT-I${Date.now().toString(36).toUpperCase().slice(-6)}`;
const root = path.resolve(__dirname, '..', '..');

beforeAll(async () => {
  stack = await startStack({ worker: false, config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY }) });
  server = stack.app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = mkdtempSync(path.join(tmpdir(), 'import-'));
  manifest = await generateBatch(
    {
      ...DEFAULT_CONFIG,
      seed: 13,
      units: 600,
      unitsPerCase: 10,
      casesPerPallet: 5,
      lot: LOT,
      eventsPerDocument: 40,
      plants: Object.fromEntries(PLANT_KINDS.map((k) => [k, 1])),
      outcomes: { rejected: 1, sampled: 1, destroyed: 1 },
    },
    dir,
  );
  // Master data first, as the README's walkthrough does: the product says whether aggregation is required.
  for (const [route, items] of [
    ['/products', manifest.products],
    ['/batches', manifest.batches],
  ] as const) {
    for (const item of items) {
      const res = await request(stack.app).post(route).set('X-API-Key', CAPTURE_KEY).send(item);
      if (res.status !== 201 && res.status !== 409) throw new Error(`${route}: ${res.status} ${JSON.stringify(res.body)}`);
    }
  }
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
  await stack.stop();
});

function runImport(
  files: string[],
  url = baseUrl,
  credentials = ['--api-key', CAPTURE_KEY],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/import.ts', '--url', url, ...credentials, ...files], {
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

describe('npm run import', () => {
  it('captures every file through the API and prints a summary of events and identifiers', async () => {
    const files = manifest.files.documents.map((f) => path.join(dir, f));
    expect(files.length).toBeGreaterThan(3);
    const { code, stdout, stderr } = await runImport(files);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    // Every identifier an event names: its EPC lists and its parent.
    const named = files
      .flatMap(
        (f) => (JSON.parse(readFileSync(f, 'utf8')) as { epcisBody: { eventList: Array<Record<string, unknown>> } }).epcisBody.eventList,
      )
      .reduce(
        (n, e) =>
          n +
          ((e.epcList as unknown[] | undefined)?.length ?? 0) +
          ((e.childEPCs as unknown[] | undefined)?.length ?? 0) +
          (e.parentID ? 1 : 0),
        0,
      );
    expect(stdout).toContain(
      `${files.length} documents captured, 0 refused: ${manifest.counts.events} events naming ${named} serials and SSCCs`,
    );
    // What was imported reconciles to the generator's own balance.
    const res = await request(stack.app)
      .post(`/batches/${encodeURIComponent(LOT)}/reconciliation`)
      .set('X-API-Key', CAPTURE_KEY)
      .query({ gtin: manifest.products[0].gtin })
      .expect(201);
    expect(res.body.balance).toEqual(manifest.balance);
  });

  it('imports as a signed-in production operator with --token, and is refused (403) with another role', async () => {
    const file = path.join(dir, manifest.files.documents[0]!);
    const operator = await signedInUser(stack.app, stack.pool, { roles: ['production'] });
    const asOperator = await runImport([file], baseUrl, ['--token', operator.token]);
    expect({ code: asOperator.code, stderr: asOperator.stderr }).toEqual({ code: 0, stderr: '' });
    expect(asOperator.stdout).toContain('1 documents captured, 0 refused');
    const lead = await signedInUser(stack.app, stack.pool, { roles: ['qa_lead'] });
    const asLead = await runImport([file], baseUrl, ['--token', lead.token]);
    expect(asLead.code).toBe(1);
    expect(asLead.stderr).toContain(`${file}: HTTP 403`);
  });

  it('fails with the refused file and its problems named, after sending the others', async () => {
    const bad = path.join(dir, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({
        type: 'EPCISDocument',
        schemaVersion: '2.0',
        creationDate: 'yesterday',
        epcisBody: { eventList: [{ type: 'ObjectEvent' }] },
      }),
    );
    const again = path.join(dir, manifest.files.documents[0]!);
    const { code, stdout, stderr } = await runImport([bad, again]);
    expect(code).toBe(1);
    expect(stderr).toContain(`${bad}: HTTP 400`);
    expect(stderr).toContain('eventIndex');
    // The good file still went in (again: the same document is recognised, nothing applied twice).
    expect(stdout).toContain('1 documents captured, 1 refused');
  });

  /**
   * A stand-in for the API that answers the first `busy` requests as the capture route does when
   * the database rolled a capture back (503, Retry-After), then accepts; the import command is the
   * unit under test here (the real route's 503 is tested in concurrent-capture.test.ts).
   */
  async function busyApi(busy: number): Promise<{ url: string; bodies: number[]; close: () => Promise<void> }> {
    const bodies: number[] = [];
    const standIn = createServer((req, res) => {
      let bytes = 0;
      req.on('data', (c: Buffer) => (bytes += c.length));
      req.on('end', () => {
        bodies.push(bytes);
        if (bodies.length <= busy) {
          res.writeHead(503, { 'Content-Type': 'application/problem+json', 'Retry-After': '1' });
          res.end(JSON.stringify({ title: 'Service Unavailable', status: 503, detail: 'rolled back; nothing was stored' }));
        } else {
          res.writeHead(202, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ success: true, events: 3, identifiers: 7 }));
        }
      });
    });
    standIn.listen(0, '127.0.0.1');
    await new Promise((resolve) => standIn.once('listening', resolve));
    return {
      url: `http://127.0.0.1:${(standIn.address() as AddressInfo).port}`,
      bodies,
      close: () => new Promise((resolve) => standIn.close(() => resolve())),
    };
  }

  it('sends a document again, whole, when the API answers 503 with Retry-After', async () => {
    const file = path.join(dir, manifest.files.documents[0]!);
    const api = await busyApi(1);
    try {
      const { code, stdout, stderr } = await runImport([file], api.url);
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
      expect(stdout).toContain('1 documents captured, 0 refused: 3 events naming 7 serials and SSCCs');
      const size = readFileSync(file).length;
      expect(api.bodies).toEqual([size, size]);
    } finally {
      await api.close();
    }
  });

  it('gives up on a document after four attempts answered 503, naming it', async () => {
    const file = path.join(dir, manifest.files.documents[0]!);
    const api = await busyApi(10);
    try {
      const { code, stdout, stderr } = await runImport([file], api.url);
      expect(code).toBe(1);
      expect(stderr).toContain(`${file}: HTTP 503`);
      expect(stdout).toContain('0 documents captured, 1 refused');
      expect(api.bodies).toHaveLength(4);
    } finally {
      await api.close();
    }
  });
});
