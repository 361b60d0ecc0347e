import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Server } from 'node:http';
import type { Express } from 'express';
import { Client as PgClient } from 'pg';
import pino from 'pino';
import request from 'supertest';
import { createApp } from '../../api/app';
import { createApiServer } from '../../api/server';
import type { Logger } from '../../lib/logger';
import { USER_ROLES, type UserRole } from '../../domain/roles';
import { as, createCast, sign, type Actor, type Cast } from '../helpers/actors';
import { newDeviationRequest } from '../helpers/fixtures';
import { compressedPolicy, eventually, startStack, testConfig, type TestStack } from '../helpers/stack';
import { createApiKey, createUser, signedInUser, type TestUser } from '../helpers/users';
import { openContainedDeviation, step, waitForState } from '../integrity/helpers';

/**
 * Everything the fuzz runs against: the real stack (API app, a worker on the suite's Temporal dev
 * server, PostgreSQL) on a database of its own, the people and machine client of every role, and
 * real records to aim at (deviations in three stages, a change control, a batch with master data,
 * users and API keys that may be changed or revoked).
 *
 * Why a database of its own: the fuzz counts rows before and after every request, and other test
 * files running at the same time on the suite's database would add rows of their own. Deviation
 * numbers start high, so the workflow IDs never meet those of the other files on the shared dev server.
 */

export type PrincipalName = UserRole | 'integration' | 'anonymous';
export const PRINCIPALS: readonly PrincipalName[] = [...USER_ROLES, 'integration', 'anonymous'];

export interface Principal {
  name: PrincipalName;
  /** The credential headers (none for anonymous). */
  headers: Record<string, string>;
  /** The signed-in person, for user roles. */
  user?: Actor;
}

export interface World {
  stack: TestStack;
  app: Express;
  port: number;
  /** Lines the API logged at error level (stack traces of 5xx answers). */
  errorLog: string[];
  drivers: Cast;
  principals: Record<PrincipalName, Principal>;
  /** One throwaway user per user role, for sign-out with a session of that role. */
  logoutUsers: Record<UserRole, TestUser>;
  /** Users whose roles, names, passwords and activity the fuzz may change. */
  throwawayUsers: TestUser[];
  /** API keys the fuzz may revoke (never the integration principal's). */
  throwawayKeyIds: string[];
  /** A deviation in containment with its verification task T1 open. */
  contained: string;
  /** A deviation in investigation (T1 signed). */
  investigating: string;
  /** A deviation in change control: actions A1 and A2 done, change control CC1 open. */
  changeControl: string;
  /** A batch with product master data (for reconciliation and repository reports). */
  batch: { lot: string; gtin: string };
  /** The lots of the deviations. */
  lots: string[];
  stop(): Promise<void>;
}

const adminUrl = () => process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function adminQuery(sql: string): Promise<void> {
  const client = new PgClient({ connectionString: adminUrl() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * Drops the fuzz's database once the stack's connections are gone. A pool's end() resolves while
 * its clients are still closing; forcing them off then would make them emit errors nobody handles.
 */
async function dropDatabase(dbName: string): Promise<void> {
  const client = new PgClient({ connectionString: adminUrl() });
  await client.connect();
  try {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [dbName]);
      if (rows[0]!.n === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await client.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

function migrate(databaseUrl: string): Promise<void> {
  const root = path.resolve(__dirname, '../..');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'scripts/migrate.ts')], {
      env: { ...process.env, DATABASE_URL: databaseUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`migrations failed (${code}): ${output}`))));
  });
}

/** A GTIN-14 with its check digit. */
export function gtin14(body13: string): string {
  const digits = body13.split('').map(Number);
  const sum = digits.reduce((s, d, i) => s + d * (i % 2 === 0 ? 3 : 1), 0);
  return `${body13}${(10 - (sum % 10)) % 10}`;
}

/** Drives a deviation through the API to change control, the way tests/lifecycle does. */
async function driveToChangeControl(app: Express, cast: Cast, id: string): Promise<void> {
  const signGate = async (gate: string, signer: Actor, meaning: 'reviewed' | 'approved' | 'verified') => {
    const task = await eventually(async () => {
      const inbox = await request(app).get('/tasks').query({ deviation: id, gate, scope: 'all' }).set(as(cast.auditor)).expect(200);
      return inbox.body.items[0] as { id: string } | undefined;
    });
    const res = await sign(app, signer, task.id, meaning);
    if (res.status !== 201) throw new Error(`sign ${gate}: ${res.status} ${JSON.stringify(res.body)}`);
  };
  const inDays = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString();
  await signGate('containment_verification', cast.qaLead, 'verified');
  await waitForState(app, cast, id, (s) => s.stage === 'investigation');
  const inv = cast.investigator;
  await step(app, id, inv, 'evidence', { items: [{ kind: 'document', ref: 'BR-1', title: 'Batch record', sha256: 'a'.repeat(64) }] });
  await step(app, id, inv, 'root-cause-analyses', {
    analysis: {
      method: 'fault_tree',
      top: 'TOP',
      nodes: [
        { id: 'TOP', type: 'and', label: 'Duplicates released', children: ['B1', 'B2'] },
        { id: 'B1', type: 'basic', label: 'Print buffer replayed' },
        { id: 'B2', type: 'basic', label: 'No duplicate check' },
      ],
      rootCauses: ['B1'],
    },
  });
  await step(app, id, inv, 'risk-assessment', {
    assessment: { method: 'fmea', severity: 4, occurrence: 2, detectability: 2, rationale: 'reconciliation detects it' },
  });
  await step(app, id, inv, 'investigation/report', { summary: 'Buffer replay after restart', rootCause: 'Print buffer replayed' });
  await signGate('investigation_approval', cast.approver1, 'approved');
  await waitForState(app, cast, id, (s) => s.stage === 'capa');
  await step(app, id, cast.capaOwner, 'capa/actions', {
    type: 'correction',
    description: 'Decommission the duplicates',
    owner: cast.production.login,
    dueDate: inDays(2),
  });
  await step(app, id, cast.capaOwner, 'capa/actions', {
    type: 'corrective',
    description: 'Clear print queue on restart',
    owner: cast.capaOwner.login,
    dueDate: inDays(10),
    changeControl: { kind: 'sop', description: 'Revise SOP-PKG-012' },
  });
  await signGate('capa_plan_approval', cast.approver1, 'approved');
  await waitForState(app, cast, id, (s) => s.rounds[0].changeControls.length === 1);
  await step(app, id, cast.production, 'capa/actions/A1/complete', { evidence: '14 SGTINs decommissioned' });
  await step(app, id, cast.capaOwner, 'capa/actions/A2/complete', { evidence: 'SOP-PKG-012 v5 approved' });
  await waitForState(app, cast, id, (s) => s.stage === 'change_control');
}

export async function buildWorld(): Promise<World> {
  const dbName = `gxp_test_fuzz_${process.pid}_${Date.now().toString(36)}`;
  const url = new URL(adminUrl());
  url.pathname = `/${dbName}`;
  const databaseUrl = url.toString();
  const cleanUp: Array<() => Promise<void>> = [() => dropDatabase(dbName)];
  const stop = async () => {
    const failures: unknown[] = [];
    for (const step of cleanUp.splice(0).reverse()) await step().catch((err: unknown) => failures.push(err));
    if (failures.length) throw new AggregateError(failures, `the fuzz's stack did not stop cleanly: ${failures.map(String).join('; ')}`);
  };
  try {
    return await setUp(databaseUrl, dbName, cleanUp, stop);
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

async function setUp(databaseUrl: string, dbName: string, cleanUp: Array<() => Promise<void>>, stop: () => Promise<void>): Promise<World> {
  await migrate(databaseUrl);
  await adminQuery(`ALTER DATABASE ${dbName} SET statement_timeout = '60s'`);
  const seq = new PgClient({ connectionString: databaseUrl });
  await seq.connect();
  // Six digits (the audit trail links api_call rows by DEV-YYYY-NNNNNN), far above the other files' numbers.
  await seq.query('ALTER SEQUENCE deviation_number_seq RESTART WITH 900000');
  await seq.end();

  const policy = compressedPolicy();
  const config = testConfig({ DATABASE_URL: databaseUrl });
  const stack = await startStack({ policy, config });
  cleanUp.push(() => stack.stop());

  // The same app as the stack's, with a logger whose errors can be read (a 5xx's stack trace).
  const errorLog: string[] = [];
  const log = pino({ level: 'error' }, { write: (line: string) => void errorLog.push(line) }) as unknown as Logger;
  const app = createApp({ config, pool: stack.pool, temporal: stack.temporal, log, policy });
  const server: Server = createApiServer(app, config);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanUp.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as AddressInfo;

  // One cast at a time: more than SIGN_IN_ADDRESS_MAX_FAILURES sign-ins under way at once from one
  // address are asked to wait (429), even with the right passwords.
  const drivers = await createCast(app, stack.pool);
  const fuzzers = await createCast(app, stack.pool);
  const admin = await signedInUser(app, stack.pool, { roles: ['admin'] });
  const integration = await createApiKey(stack.pool);
  const byRole: Record<UserRole, Actor> = {
    qa_lead: fuzzers.qaLead,
    qa_approver: fuzzers.approver1,
    qa_head: fuzzers.qaHead,
    investigator: fuzzers.investigator,
    capa_owner: fuzzers.capaOwner,
    production: fuzzers.production,
    it: fuzzers.it,
    validation: fuzzers.validation,
    auditor: fuzzers.auditor,
    admin,
  };
  const principals = Object.fromEntries([
    ...USER_ROLES.map((role) => [role, { name: role, headers: as(byRole[role]), user: byRole[role] }] as const),
    ['integration', { name: 'integration', headers: { 'X-API-Key': integration.key } }] as const,
    ['anonymous', { name: 'anonymous', headers: {} }] as const,
  ]) as Record<PrincipalName, Principal>;

  const logoutUsers = Object.fromEntries(
    await Promise.all(USER_ROLES.map(async (role) => [role, await createUser(stack.pool, { roles: [role] })] as const)),
  ) as Record<UserRole, TestUser>;
  const throwawayUsers = await Promise.all([
    createUser(stack.pool, { roles: ['production'] }),
    createUser(stack.pool, { roles: ['qa_approver', 'validation'] }),
    createUser(stack.pool, { roles: ['auditor'] }),
  ]);
  const throwawayKeyIds = (
    await Promise.all([0, 1, 2].map(() => createApiKey(stack.pool, { createdBy: admin.id, roles: ['integration'] })))
  ).map((k) => k.id);

  // Master data for one batch, through the API as a line system sends it.
  const tag = randomBytes(3).toString('hex').toUpperCase();
  const batch = { lot: `FZ${tag}`, gtin: gtin14(`0${String(Date.now()).slice(-12)}`) };
  await request(app)
    .post('/products')
    .set('X-API-Key', integration.key)
    .send({ gtin: batch.gtin, name: 'Fuzz product', unitsPerCase: 10, casesPerPallet: 10 })
    .expect(201);
  await request(app)
    .post('/batches')
    .set('X-API-Key', integration.key)
    .send({
      lot: batch.lot,
      gtin: batch.gtin,
      expiry: new Date(Date.now() + 400 * 86_400_000).toISOString().slice(0, 10),
      plannedQuantity: 1000,
      line: 'L3',
    })
    .expect(201);

  const lots = [`FA${tag}`, `FB${tag}`, `FC${tag}`];
  // One after the other, so each gets the same number in every run (DEV-YYYY-900000, …01, …02).
  const contained = await openContainedDeviation(app, drivers, { batches: [lots[0], batch.lot], gtins: [batch.gtin] });
  const investigating = await openContainedDeviation(app, drivers, { batches: [lots[1]] });
  const changeControl = await openContainedDeviation(app, drivers, { batches: [lots[2]], lines: ['L7'] });
  await Promise.all([
    (async () => {
      const task = (await request(app).get('/tasks').query({ deviation: investigating }).set(as(drivers.qaLead)).expect(200)).body.items[0];
      const signed = await sign(app, drivers.qaLead, task.id, 'verified');
      if (signed.status !== 201) throw new Error(`containment verification: ${signed.status} ${JSON.stringify(signed.body)}`);
      await waitForState(app, drivers, investigating, (s) => s.stage === 'investigation');
    })(),
    driveToChangeControl(app, drivers, changeControl),
  ]);

  return {
    stack,
    app,
    port,
    errorLog,
    drivers,
    principals,
    logoutUsers,
    throwawayUsers,
    throwawayKeyIds,
    contained,
    investigating,
    changeControl,
    batch,
    lots,
    stop,
  };
}

// Re-exported for the test's own setup and final checks.
export { newDeviationRequest, openContainedDeviation, waitForState };
