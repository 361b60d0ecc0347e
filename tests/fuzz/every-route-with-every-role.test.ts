import { appendFileSync } from 'node:fs';
import fc from 'fast-check';
import request from 'supertest';
import { auditHash, type AuditRow } from '../../audit/trail';
import { bearer, loginAs } from '../helpers/users';
import { eventually } from '../helpers/stack';
import { bodyBytes, describeBody } from './bodies';
import { caseArb, credentialHeaders, listedRoles, mayPass, queryEdgeCases, SELF, userRoleOf, type FuzzCase } from './cases';
import { fuzzOperations, type FuzzOperation as Operation } from './operations';
import { differences, snapshot, type Snapshot } from './probes';
import { loopbackAddresses, send, type WireResponse } from './wire';
import { buildWorld, newDeviationRequest, openContainedDeviation, PRINCIPALS, waitForState, type World } from './world';

/**
 * Issue 13: every route of the OpenAPI document, with every role (each user role, an integration
 * API key, and nobody), against the real stack, with inputs derived from the routes' own zod
 * schemas plus hostile text, structural mutations, hostile path parameters, query strings and
 * headers. Per request: no 5xx; every 4xx is problem+json; a refused request (and any read) writes
 * nothing and adds no input to the target deviations' histories, counted before and after; no
 * unauthenticated request and no role the document does not list gets through. Afterwards the
 * worker still polls and a new deviation still reaches containment.
 *
 * Also, per accepted change: exactly one api_call audit row, nothing logged at error level, and
 * both hash chains (audit trail, signature ledger) still verify.
 *
 * Deterministic and bounded: a fixed seed; first one request for every route × role pair (the
 * sweep), then every query parameter at its edges with roles that pass, then EXTRA_RUNS more,
 * drawn from the pairs whose role may pass the route's role check. About 1,100 requests, 2 minutes
 * on two cores. Rows are counted after every request; the count after a refused request or a
 * read is the next request's "before" (a write that lands between two requests is still caught),
 * and after an accepted change the fuzz waits until what it set off in the worker has settled.
 * A finding prints the request as sent (method, path, role, headers, body), so it can be sent again.
 * FUZZ_VERBOSE=1 prints progress and the answers per route; FUZZ_LOG=<file> writes every request
 * and its answer as JSON lines.
 */
const SEED = 13_2026;
const EXTRA_RUNS = 200;

let world: World;
let OPERATIONS: Operation[];
beforeAll(async () => {
  OPERATIONS = fuzzOperations();
  world = await buildWorld();
}, 240_000);
afterAll(async () => {
  await world?.stop();
}, 60_000);

interface Violation {
  kind: string;
  request: string;
  detail: string;
}

const violations: Violation[] = [];
/** Changes the probes saw after accepted changes: proof that they count what requests write. */
const seen = { rowWrites: 0, historyInputs: 0 };
const statuses = new Map<string, number>();
const perStatusClass = new Map<string, number>();
let requests = 0;
const nextAddress = loopbackAddresses();

function describeCase(c: FuzzCase, path: string): string {
  const shownPath = path.length > 300 ? `${path.slice(0, 300)}… (${path.length} chars)` : path;
  const credential =
    c.credential === 'role'
      ? ''
      : ` (credential: ${c.credential}${c.credential.startsWith('bogus') ? ` ${JSON.stringify(c.bogus.slice(0, 40))}` : ''})`;
  const headers = Object.keys(c.headers).length
    ? ` headers ${JSON.stringify(c.headers, (_k, v: unknown) => (typeof v === 'string' && v.length > 100 ? `${v.slice(0, 100)}…(${v.length})` : v))}`
    : '';
  return `${c.op.method.toUpperCase()} ${shownPath} as ${c.principal}${credential}${headers} body ${describeBody(c.body)}`;
}

function describeAnswer(res: WireResponse): string {
  const text = res.body.toString('utf8');
  return `${res.status} ${res.headers['content-type'] ?? '(no content-type)'} ${text.length > 500 ? `${text.slice(0, 500)}…` : text}${res.error ? ` [transport: ${res.error}]` : ''}`;
}

/** Error lines the API logged since `mark`: message and the top of the stack. */
function loggedErrors(mark: number): string {
  return world.errorLog
    .slice(mark)
    .map((line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; err?: { message?: string; stack?: string } | string; url?: string };
        const err =
          typeof entry.err === 'string'
            ? entry.err
            : `${entry.err?.message ?? ''}\n${(entry.err?.stack ?? '').split('\n').slice(0, 8).join('\n')}`;
        return `${entry.msg ?? ''} ${entry.url ?? ''}: ${err}`;
      } catch {
        return line;
      }
    })
    .join('\n');
}

const targets = () => [world.contained, world.investigating, world.changeControl, `${world.changeControl}-CC1`];
const timing = { snapshots: 0, snapshotMs: 0, requestMs: 0 };
const take = async () => {
  const t = Date.now();
  const snap = await snapshot(world.stack.pool, world.stack.temporal, targets());
  timing.snapshots++;
  timing.snapshotMs += Date.now() - t;
  return snap;
};

/** After a change went through, waits until what it set off in the worker has settled. */
async function settle(c: FuzzCase, res: WireResponse): Promise<void> {
  if (c.op.path === '/deviations' && res.status === 201) {
    const id = (JSON.parse(res.body.toString('utf8')) as { id: string }).id;
    await waitForState(world.app, world.drivers, id, (s) => Boolean(s.containment.actionsCompletedAt) && s.tasks.length > 0, 30_000).catch(
      () => {
        violations.push({ kind: 'accepted deviation never reached containment', request: describeCase(c, c.path), detail: id });
      },
    );
  }
  let last = await take();
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 300));
    const now = await take();
    if (differences(last, now).length === 0) return;
    last = now;
  }
}

/** The hash chains (audit trail, signature ledger) as their verification routes report them. */
async function chainsBroken(): Promise<Array<{ chain: string; answer: WireResponse }>> {
  const broken: Array<{ chain: string; answer: WireResponse }> = [];
  for (const chain of ['/audit/verify', '/signatures/verify']) {
    const answer = await send(world.port, { method: 'GET', path: chain, headers: world.principals.auditor.headers });
    const body = JSON.parse(answer.body.toString('utf8')) as { ok?: boolean };
    if (body.ok !== true) broken.push({ chain, answer });
  }
  return broken;
}

/** After each accepted change: the request that first breaks a hash chain is named. */
const brokenChains = new Set<string>();
async function checkChains(c: FuzzCase, path: string, res: WireResponse): Promise<void> {
  for (const { chain, answer } of await chainsBroken()) {
    if (brokenChains.has(chain)) continue;
    brokenChains.add(chain);
    violations.push({
      kind: `an accepted change broke the hash chain (GET ${chain})`,
      request: describeCase(c, path),
      detail: `${describeAnswer(res)}\n  GET ${chain}: ${describeAnswer(answer)}`,
    });
  }
}

/**
 * The snapshot after the last request, when nothing has run since that could write (the request
 * was refused or only read): it is then the next request's "before", which halves the counting.
 */
let lastAfter: Snapshot | undefined;

async function runCase(c: FuzzCase): Promise<void> {
  const role = userRoleOf(c.principal);
  let credential = credentialHeaders(world, c.principal, c.credential, c.bogus);
  if (c.op.path === '/auth/logout' && role && c.credential === 'role') {
    // Signing out ends the session: a throwaway session of the role, never the fuzzer's own.
    const user = world.logoutUsers[role];
    credential = bearer(await loginAs(world.app, user.login, user.password));
    lastAfter = undefined; // the sign-in wrote a session
  }
  const path = c.path.split(SELF).join(world.principals[c.principal].user?.id ?? '00000000-0000-4000-8000-000000000000');
  const { bytes, contentType } = bodyBytes(c.body);
  const headers = { ...credential, ...(contentType ? { 'Content-Type': contentType } : {}), ...c.headers };
  const mark = world.errorLog.length;

  const before: Snapshot = lastAfter ?? (await take());
  const res = await send(world.port, { method: c.op.method.toUpperCase(), path, headers, body: bytes, localAddress: nextAddress() });
  const after: Snapshot = await take();
  lastAfter = after;
  requests++;
  timing.requestMs += res.ms;
  if (process.env.FUZZ_VERBOSE && requests % 100 === 0)
    process.stdout.write(`[fuzz] ${requests} requests, ${violations.length} findings\n`);

  if (process.env.FUZZ_LOG)
    appendFileSync(
      process.env.FUZZ_LOG,
      `${JSON.stringify({ n: requests, request: describeCase(c, path), answer: describeAnswer(res).slice(0, 300), ms: res.ms })}\n`,
    );
  const key = `${c.op.method.toUpperCase()} ${c.op.path} ${res.status}`;
  statuses.set(key, (statuses.get(key) ?? 0) + 1);
  const cls = res.status === 0 ? 'none' : `${Math.floor(res.status / 100)}xx`;
  perStatusClass.set(cls, (perStatusClass.get(cls) ?? 0) + 1);
  const report = (kind: string, detail: string) => violations.push({ kind, request: describeCase(c, path), detail });
  const changed = differences(before, after);

  if (res.status === 0) report('no answer', describeAnswer(res));
  if (res.status >= 500) report('5xx', `${describeAnswer(res)}\n  API log:\n${loggedErrors(mark) || '  (nothing logged)'}`);
  if (res.status >= 400 && res.status < 500) {
    if (!/^application\/problem\+json/.test(String(res.headers['content-type'] ?? '')))
      report('4xx is not application/problem+json', describeAnswer(res));
    if (changed.length) report('refused request wrote something', `${describeAnswer(res)}\n  changed: ${changed.join('; ')}`);
  }
  const read = c.op.method === 'get' || c.op.method === 'options';
  if (read && res.status > 0 && res.status < 400 && changed.length)
    report('a read wrote something', `${describeAnswer(res)}\n  changed: ${changed.join('; ')}`);

  const unauthenticated =
    (c.principal === 'anonymous' && c.credential === 'role') ||
    ['none', 'both', 'bogus-bearer', 'bogus-key', 'basic'].includes(c.credential);
  if (unauthenticated && !c.op.public && res.status > 0 && res.status < 400)
    report('an unauthenticated request got through', describeAnswer(res));
  const roles = listedRoles(c.op);
  if (roles && c.credential === 'role' && !roles.includes(c.principal) && res.status >= 200 && res.status < 300) {
    report('a role the document does not list got through', `${describeAnswer(res)} (listed: ${roles.join(', ')})`);
  }

  if (world.errorLog.length > mark && res.status < 500)
    report('the API logged an error', `${describeAnswer(res)}\n  API log:\n${loggedErrors(mark)}`);
  if (!read && res.status >= 200 && res.status < 300) {
    // Every accepted change leaves exactly one api_call row (audit/middleware.ts), written before the answer.
    const audited = Number(after['audit_trail api_call']) - Number(before['audit_trail api_call']);
    if (audited !== 1) report('an accepted change left no api_call audit row', `${describeAnswer(res)}\n  api_call rows added: ${audited}`);
    if (changed.some((d) => !d.startsWith('history input'))) seen.rowWrites++;
    if (changed.some((d) => d.startsWith('history input'))) seen.historyInputs++;
  }
  if (!read && res.status >= 200 && res.status < 400) {
    lastAfter = undefined; // what the change set off may still be writing
    await settle(c, res);
    await checkChains(c, path, res);
  }
}

it('the fuzz covers exactly the routes GET /openapi.json serves', async () => {
  const res = await send(world.port, { method: 'GET', path: '/openapi.json', headers: {} });
  expect(res.status).toBe(200);
  const doc = JSON.parse(res.body.toString('utf8')) as { paths: Record<string, Record<string, unknown>> };
  const served = Object.entries(doc.paths)
    .flatMap(([p, methods]) => Object.keys(methods).map((m) => `${m} ${p}`))
    .sort();
  expect(OPERATIONS.map((op) => `${op.method} ${op.path}`).sort()).toEqual(served);
});

it('every route × every role: no 5xx, refusals are problem+json and write nothing (counted), nobody unauthorised gets through', async () => {
  const started = Date.now();
  const say = (what: string) =>
    process.env.FUZZ_VERBOSE && process.stdout.write(`[fuzz] ${what} at ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  const pairs: Array<[Operation, (typeof PRINCIPALS)[number]]> = OPERATIONS.flatMap((op) =>
    PRINCIPALS.map((p) => [op, p] as [Operation, (typeof PRINCIPALS)[number]]),
  );
  // The sweep: one request for every pair, each drawn with a seed of its own.
  const sweep = pairs.map(([op, p], i) => fc.sample(caseArb(world, op, p), { seed: SEED + i, numRuns: 1 })[0]!);
  // Every query parameter at its edges, with roles that pass.
  const edges = queryEdgeCases(world, OPERATIONS);
  // Then more where a role may pass the role check, so the bodies reach validation and the workflows.
  const passing = pairs.filter(([op, p]) => mayPass(op, p));
  const extra = fc.sample(
    fc.constantFrom(...passing).chain(([op, p]) => caseArb(world, op, p)),
    { seed: SEED, numRuns: EXTRA_RUNS },
  );
  expect(await chainsBroken()).toEqual([]);
  say(`${sweep.length + edges.length + extra.length} requests drawn`);
  for (const c of [...sweep, ...edges, ...extra]) await runCase(c);
  say(`done (${timing.snapshots} snapshots: ${timing.snapshotMs} ms; requests: ${timing.requestMs} ms)`);

  // The hash chains the requests appended to still verify (a break not yet put down to a request is named here).
  for (const { chain, answer } of await chainsBroken()) {
    if (!brokenChains.has(chain))
      violations.push({ kind: 'a hash chain no longer verifies after the fuzz', request: `GET ${chain}`, detail: describeAnswer(answer) });
  }

  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const classes = [...perStatusClass].map(([k, v]) => `${k}: ${v}`).join(', ');
  process.stdout.write(
    `\n[fuzz] seed ${SEED}: ${OPERATIONS.length} routes × ${PRINCIPALS.length} roles = ${pairs.length} pairs; ${requests} requests (${sweep.length} sweep, ${edges.length} query edges, ${extra.length} more) in ${seconds} s; ${classes}; accepted changes seen by the probes: ${seen.rowWrites} in rows, ${seen.historyInputs} in target histories\n`,
  );
  if (process.env.FUZZ_VERBOSE) process.stdout.write(`${[...statuses].map(([k, v]) => `  ${k} ×${v}`).join('\n')}\n`);
  const byKind = violations.map((v) => `[${v.kind}] ${v.request}\n  → ${v.detail}`);
  expect(byKind).toEqual([]);
  // The probes are live: accepted changes showed up in them (rows, and Updates in the targets' histories).
  expect(seen.rowWrites).toBeGreaterThan(0);
  expect(seen.historyInputs).toBeGreaterThan(0);
}, 420_000);

it('the worker still polls afterwards, and a new deviation reaches containment with its holds placed', async () => {
  expect(world.stack.worker!.worker.getState()).toBe('RUNNING');
  const health = await eventually(async () => {
    const res = await request(world.app).get('/health');
    return res.body.checks?.worker?.status === 'up' ? res.body : undefined;
  });
  expect(health.checks.worker).toMatchObject({ status: 'up' });
  const open = newDeviationRequest();
  const lot = (open.batches as string[])[0]!;
  const id = await openContainedDeviation(world.app, world.drivers, open);
  const holds = await world.stack.pool.query<{ lot: string }>('SELECT lot FROM holds WHERE deviation_id = $1', [id]);
  expect(holds.rows).toEqual([{ lot }]);
  expect(world.stack.worker!.worker.getState()).toBe('RUNNING');
}, 120_000);

/*
 * What the fuzz found, each reproduced on its own with the request that shows it, so a fix can be
 * checked without running the fuzz (and a regression is named plainly).
 */
describe('found by the fuzz', () => {
  const apiCallRows = async () =>
    Number(
      (await world.stack.pool.query<{ n: string }>("SELECT count(*) AS n FROM audit_trail WHERE entity_type = 'api_call'")).rows[0]!.n,
    );
  const signOut = async (reasonJson: string) => {
    const user = world.logoutUsers.production;
    const token = await loginAs(world.app, user.login, user.password);
    const before = await apiCallRows();
    const mark = world.errorLog.length;
    const res = await send(world.port, {
      method: 'POST',
      path: '/auth/logout',
      headers: { ...bearer(token), 'Content-Type': 'application/json' },
      body: Buffer.from(`{"reason":${reasonJson}}`),
    });
    return { user, res, added: (await apiCallRows()) - before, logged: loggedErrors(mark) };
  };

  it('a change whose body has a NUL in its reason still leaves its api_call audit row: POST /auth/logout {"reason":"a\\u0000b"}', async () => {
    const { res, added, logged } = await signOut('"a\\u0000b"');
    expect(res.status).toBe(204); // the session is ended either way
    expect({ apiCallRowsAdded: added, apiLog: logged }).toEqual({ apiCallRowsAdded: 1, apiLog: '' });
  });

  it('a lone surrogate in a reason leaves an audit row that holds its own hash: POST /auth/logout {"reason":"x\\udfffy"}', async () => {
    const { user, res } = await signOut('"x\\udfffy"');
    expect(res.status).toBe(204);
    const page = await send(world.port, {
      method: 'GET',
      path: `/audit?actor=${encodeURIComponent(user.login)}&limit=1000`,
      headers: world.principals.auditor.headers,
    });
    const rows = (JSON.parse(page.body.toString('utf8')) as { items: AuditRow[] }).items.filter(
      (r) => r.entityType === 'api_call' && r.action.startsWith('POST /auth/logout'),
    );
    const row = rows.sort((a, b) => Number(b.id) - Number(a.id))[0]!;
    const { id: _id, hash, ...content } = row;
    expect(['x\udfffy', 'x\ufffdy']).toContain(row.reason); // as sent, or as its storable copy
    expect({ hashHolds: auditHash(content) === hash }).toEqual({ hashHolds: true });
  });

  it('GET /audit with a cursor past the largest row ID (9223372036854775808, 9999999999999999999) is answered without a 500 ("out of range for type bigint")', async () => {
    for (const id of ['9223372036854775808', '9999999999999999999']) {
      const cursor = Buffer.from(id, 'utf8').toString('base64url');
      const res = await send(world.port, { method: 'GET', path: `/audit?cursor=${cursor}`, headers: world.principals.auditor.headers });
      // A refusal (400) or an empty page (200) would both do.
      expect({ cursorOf: id, status: res.status }).toEqual({ cursorOf: id, status: res.status < 500 ? res.status : 'anything but a 5xx' });
    }
  });
});
