import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { Express } from 'express';
import request from 'supertest';
import { DEFAULT_CONFIG } from '../../lib/generator/plan';
import { generateBatch } from '../../lib/generator/write';
import type { Pool } from '../../db/pool';
import { lineMonitorScenario } from '../monitoring/replay-scenario';
import type { UserRole } from '../../domain/roles';
import type { DeviationState, Gate } from '../../workflows/types';
import { createApiKey, createUser, loginAs, type TestUser } from '../helpers/users';

/**
 * Lifecycle paths recorded as replay fixtures (`npm run record-histories`). Each scenario drives a
 * real deviation through the HTTP API exactly as its people would — signed-in users, every gate
 * passed by an electronic signature (login and password again) on POST /tasks/:id/sign — on a dev
 * server under the compressed policy (policies/compressed.json: containment window 8 s,
 * effectiveness delay 2 s), and returns the workflow ID whose history is kept under
 * tests/replay/histories/<name>.json. Every scenario waits until its workflow has finished.
 *
 * Add a scenario here when a lifecycle path lands or changes, then re-record (docs/replay.md).
 */

export type Person = TestUser & { token: string };
/** The people of a deviation, each a real user signed in through the API. */
export type Cast = Record<
  'qaLead' | 'investigator' | 'capaOwner' | 'approver1' | 'approver2' | 'qaHead' | 'validation' | 'production' | 'auditor',
  Person
>;

const PEOPLE: Record<keyof Cast, { roles: UserRole[]; name: string }> = {
  qaLead: { roles: ['qa_lead'], name: 'Quinn Lead' },
  investigator: { roles: ['investigator'], name: 'Ivy Smith' },
  capaOwner: { roles: ['capa_owner'], name: 'Cal Owner' },
  approver1: { roles: ['qa_approver'], name: 'Alex One' },
  approver2: { roles: ['qa_approver'], name: 'Blake Two' },
  qaHead: { roles: ['qa_head'], name: 'Harper Head' },
  validation: { roles: ['validation'], name: 'Val Lee' },
  production: { roles: ['production'], name: 'Pat Jones' },
  auditor: { roles: ['auditor'], name: 'Ari Auditor' },
};

/** Creates the cast as users of the database behind `app` and signs each of them in. */
export async function createScenarioCast(app: Express, pool: Pool): Promise<Cast> {
  const tag = randomBytes(3).toString('hex');
  const entries = await Promise.all(
    Object.entries(PEOPLE).map(async ([part, p]) => {
      const user = await createUser(pool, {
        roles: p.roles,
        login: `${part.replace(/[A-Z0-9]/g, (c) => `.${c.toLowerCase()}`)}.${tag}`,
        printedName: p.name,
      });
      return [part, { ...user, token: await loginAs(app, user.login, user.password) }] as const;
    }),
  );
  return Object.fromEntries(entries) as Cast;
}

export interface ScenarioContext {
  app: Express;
  temporal: Client;
  people: Cast;
  /** Opens a deviation as the QA lead; returns its number. */
  open(overrides?: Record<string, unknown>): Promise<string>;
  /** POST /deviations/:id/<path> as `actor`; retried while the workflow answers 409 (not yet in that stage). */
  step(id: string, actor: Person, path: string, body: Record<string, unknown>): Promise<DeviationState>;
  /** Finds the open task of `gate` in the signer's inbox and signs it with login and password. */
  sign(id: string, gate: Gate, signer: Person, meaning: 'reviewed' | 'approved' | 'verified', comment?: string): Promise<void>;
  /** Finds the open task of `gate` in the signer's inbox and rejects it, signed, with a reason. */
  reject(id: string, gate: Gate, signer: Person, reason: string): Promise<void>;
  /** POST /deviations/:id/cancel: a justification and the signer's login and password. */
  cancel(id: string, signer: Person, justification: string): Promise<DeviationState>;
  /** The deviation as GET /deviations/:id shows it to an auditor, once `done` holds. */
  waitFor(id: string, what: string, done: (s: DeviationState) => boolean, timeoutMs?: number): Promise<DeviationState>;
  /** Waits until the workflow has finished; returns its final state. */
  waitForEnd(id: string): Promise<DeviationState>;
  /**
   * A packaging run on `line` reaches the product as a line system sends it: master data (POST
   * /products, /batches), EPCIS 2.0 documents (POST /epcis/capture) and the repository report,
   * all with an integration API key. `duplicates` serials are commissioned twice.
   */
  captureBatch(line: string, opts?: { duplicates?: number; units?: number }): Promise<string>;
  sleep(ms: number): Promise<void>;
}

export interface Scenario {
  name: string;
  description: string;
  run(ctx: ScenarioContext): Promise<string>;
}

const inDays = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString();
const sha = (s: string) => Buffer.from(s).toString('hex').padEnd(64, '0').slice(0, 64);

/** Investigation of one round: evidence, a contribution, a root-cause analysis, risk, the report. */
async function investigate(ctx: ScenarioContext, id: string, round: number, rootCause: string): Promise<void> {
  const { investigator, production } = ctx.people;
  await ctx.step(id, investigator, 'evidence', {
    items: [
      { kind: 'batch_record', ref: `BR-${round}-${id}`, title: `Batch record (round ${round})` },
      { kind: 'document', ref: `LOG-${round}`, title: 'Line controller log', sha256: sha(`log ${id} ${round}`) },
    ],
  });
  await ctx.step(id, production, 'contributions', {
    function: 'manufacturing',
    summary:
      round === 1
        ? 'Printer restarted at 02:14 during the night shift'
        : 'Duplicates reappeared after the SOP change: the restart script itself replays the buffer',
  });
  await ctx.step(id, investigator, 'root-cause-analyses', {
    analysis: {
      method: 'five_why',
      problem: 'Serials commissioned twice',
      whys: [
        { question: 'Why twice?', answer: 'The printer replayed its buffer' },
        { question: 'Why did it replay?', answer: 'It restarted without clearing the queue' },
        { question: 'Why was the queue kept?', answer: rootCause },
      ],
      rootCause,
    },
  });
  await ctx.step(id, investigator, 'risk-assessment', {
    assessment: {
      method: 'fmea',
      severity: 4,
      occurrence: 2,
      detectability: 2,
      rationale: 'Reconciliation detects duplicates before release',
    },
  });
  await ctx.step(id, investigator, 'investigation/report', { summary: `Round ${round}: buffer replay after restart`, rootCause });
}

/** Change control CC<n>: impact assessment, dual approval, implementation, verification. */
async function runChangeControl(ctx: ScenarioContext, id: string, cc: string): Promise<void> {
  const { validation, approver1, approver2, qaHead, production } = ctx.people;
  await ctx.step(id, validation, `change-controls/${cc}/impact-assessment`, {
    validationStatusAffected: true,
    requalificationRequired: false,
    systemsAffected: ['Line controller'],
    summary: 'SOP and restart procedure; no change to validated software',
  });
  // Approval (dual: validation status is affected) and verification are electronic signatures.
  const signed = (p: Person, comment?: string) => ({ login: p.login, password: p.password, ...(comment ? { comment } : {}) });
  await ctx.step(id, approver1, `change-controls/${cc}/approve`, signed(approver1));
  await ctx.step(id, qaHead, `change-controls/${cc}/approve`, signed(qaHead, 'Re-qualification not needed'));
  await ctx.step(id, production, `change-controls/${cc}/implementation`, { summary: 'Procedure in force; operators trained' });
  await ctx.step(id, approver2, `change-controls/${cc}/verify`, signed(approver2));
}

/** Closure: a disposition for every held batch, then the dual final approval. */
async function close(ctx: ScenarioContext, id: string): Promise<DeviationState> {
  const { approver1, qaHead } = ctx.people;
  const state = await ctx.waitFor(id, 'closure', (s) => s.stage === 'closure');
  for (const hold of state.containment.holds) {
    await ctx.step(id, approver1, 'dispositions', {
      lot: hold.lot,
      disposition: 'release',
      reason: 'Duplicates decommissioned; remainder reconciled',
    });
  }
  await ctx.sign(id, 'closure_approval', approver1, 'approved');
  await ctx.sign(id, 'closure_approval', qaHead, 'approved', 'Deviation closed');
  const end = await ctx.waitForEnd(id);
  if (end.stage !== 'closed') throw new Error(`${id} ended ${end.stage}, not closed`);
  return end;
}

const lineOf = () => `RL-${randomBytes(3).toString('hex').toUpperCase()}`;

export const SCENARIOS: Scenario[] = [
  {
    name: 'on-time',
    description:
      'Detection to closure: containment signed within its window, investigation, CAPA with a change control, effectiveness met on a clean batch made on the line afterwards, dispositions, dual closure.',
    async run(ctx) {
      const { qaLead, approver1, capaOwner, production } = ctx.people;
      const line = lineOf();
      const id = await ctx.open({ lines: [line] });
      await ctx.waitFor(id, 'containment actions', (s) => Boolean(s.containment.actionsCompletedAt));
      await ctx.sign(id, 'containment_verification', qaLead, 'verified', 'Holds verified on the ERP');
      const contained = await ctx.waitFor(id, 'investigation', (s) => s.stage === 'investigation');
      if (contained.containment.confirmation?.late) throw new Error(`${id}: containment was confirmed late`);

      await investigate(ctx, id, 1, 'SOP-PKG-012 omits clearing the print queue on restart');
      await ctx.sign(id, 'investigation_approval', approver1, 'approved');
      await ctx.waitFor(id, 'capa', (s) => s.stage === 'capa');
      await ctx.step(id, capaOwner, 'capa/actions', {
        type: 'correction',
        description: 'Decommission the duplicate serials',
        owner: production.login,
        dueDate: inDays(2),
      });
      await ctx.step(id, capaOwner, 'capa/actions', {
        type: 'corrective',
        description: 'Clear the print queue on restart',
        owner: capaOwner.login,
        dueDate: inDays(10),
        changeControl: { kind: 'sop', description: 'Revise SOP-PKG-012' },
      });
      await ctx.sign(id, 'capa_plan_approval', approver1, 'approved');
      await ctx.waitFor(id, 'change control opened', (s) => s.rounds[0]!.changeControls.length === 1);
      await ctx.step(id, production, 'capa/actions/A1/complete', {
        evidence: 'Duplicates decommissioned; EPCIS decommissioning events captured',
      });
      await ctx.step(id, capaOwner, 'capa/actions/A2/complete', { evidence: 'SOP-PKG-012 v5 approved' });
      await ctx.waitFor(id, 'change_control', (s) => s.stage === 'change_control');
      // Production goes on after CAPA completion: a clean batch on the line is the evidence the check needs.
      await ctx.captureBatch(line);
      await runChangeControl(ctx, id, 'CC1');
      const checked = await ctx.waitFor(id, 'effectiveness verdict', (s) => (s.rounds[0]!.effectiveness.checks.length ?? 0) > 0);
      if (checked.rounds[0]!.effectiveness.checks[0]!.verdict !== 'effective')
        throw new Error(`${id}: effectiveness ${JSON.stringify(checked.rounds[0]!.effectiveness.checks[0])}`);
      await ctx.sign(id, 'effectiveness_verification', approver1, 'verified');
      await close(ctx, id);
      return id;
    },
  },
  {
    name: 'containment-escalated',
    description:
      'Critical deviation: containment not confirmed within the window (two reminders, escalation, SLA breach), confirmed late, then investigation, CAPA, an inconclusive effectiveness check decided by QA, closure.',
    async run(ctx) {
      const { qaLead, qaHead, approver1, approver2, capaOwner } = ctx.people;
      const id = await ctx.open({ severity: 'critical', lines: [lineOf()] });
      const breached = await ctx.waitFor(id, 'SLA breach', (s) => s.slaBreaches.length > 0, 30_000);
      if (breached.containment.remindersSent !== 2) throw new Error(`${id}: ${breached.containment.remindersSent} containment reminders`);
      await ctx.sign(id, 'containment_verification', qaLead, 'verified', 'Holds verified late: the night shift missed the alert');
      const late = await ctx.waitFor(id, 'investigation', (s) => s.stage === 'investigation');
      if (!late.containment.confirmation?.late) throw new Error(`${id}: the late confirmation is not marked late`);

      await investigate(ctx, id, 1, 'No procedure for restarting the printer mid-batch');
      await ctx.sign(id, 'investigation_approval', approver2, 'approved');
      await ctx.waitFor(id, 'capa', (s) => s.stage === 'capa');
      await ctx.step(id, capaOwner, 'capa/actions', {
        type: 'corrective',
        description: 'Restart procedure with queue clearing',
        owner: capaOwner.login,
        dueDate: inDays(5),
      });
      await ctx.sign(id, 'capa_plan_approval', approver1, 'approved');
      await ctx.step(id, capaOwner, 'capa/actions/A1/complete', { evidence: 'Procedure in force since the next shift' });
      // No batch has been made on the line since: two inconclusive checks, then QA decides (refused
      // with 409 until the workflow waits for the decision, and retried).
      await ctx.step(id, qaHead, 'effectiveness/decide', {
        effective: true,
        rationale: 'No recurrence in three weeks of manual review of the line',
      });
      await ctx.sign(id, 'effectiveness_verification', approver1, 'verified');
      await close(ctx, id);
      return id;
    },
  },
  {
    name: 'effectiveness-loop',
    description:
      'Round 1 CAPA and change control done, but a batch made on the line afterwards has duplicate serials: effectiveness not met, investigation reopened; round 2 with a new CAPA and change control, a clean batch, effective, closure.',
    async run(ctx) {
      const { qaLead, approver1, approver2, capaOwner } = ctx.people;
      const line = lineOf();
      const id = await ctx.open({ lines: [line] });
      await ctx.waitFor(id, 'containment actions', (s) => Boolean(s.containment.actionsCompletedAt));
      await ctx.sign(id, 'containment_verification', qaLead, 'verified');

      for (const [round, cc, duplicates] of [
        [1, 'CC1', 3],
        [2, 'CC2', 0],
      ] as const) {
        await ctx.waitFor(id, `investigation round ${round}`, (s) => s.stage === 'investigation' && s.rounds.length === round);
        await investigate(
          ctx,
          id,
          round,
          round === 1
            ? 'SOP-PKG-012 omits clearing the print queue on restart'
            : 'The restart script re-sends the last buffer whatever the SOP says',
        );
        await ctx.sign(id, 'investigation_approval', round === 1 ? approver1 : approver2, 'approved');
        await ctx.waitFor(id, `capa round ${round}`, (s) => s.stage === 'capa');
        const action = `A${round}`;
        await ctx.step(id, capaOwner, 'capa/actions', {
          type: 'corrective',
          description: round === 1 ? 'Clear the print queue on restart' : 'Replace the restart script',
          owner: capaOwner.login,
          dueDate: inDays(10),
          changeControl:
            round === 1
              ? { kind: 'sop', description: 'Revise SOP-PKG-012' }
              : { kind: 'computerized_system', description: 'Line controller restart script v2' },
        });
        await ctx.sign(id, 'capa_plan_approval', approver1, 'approved');
        await ctx.step(id, capaOwner, `capa/actions/${action}/complete`, {
          evidence: round === 1 ? 'SOP-PKG-012 v5 approved' : 'Restart script v2 installed and qualified',
        });
        await ctx.waitFor(id, `change control round ${round}`, (s) => s.stage === 'change_control');
        await ctx.captureBatch(line, { duplicates });
        await runChangeControl(ctx, id, cc);
        const checked = await ctx.waitFor(
          id,
          `effectiveness round ${round}`,
          (s) => (s.rounds[round - 1]!.effectiveness.checks.length ?? 0) > 0,
        );
        const verdict = checked.rounds[round - 1]!.effectiveness.checks[0]!.verdict;
        if (verdict !== (round === 1 ? 'not_effective' : 'effective')) throw new Error(`${id}: round ${round} effectiveness ${verdict}`);
      }
      await ctx.sign(id, 'effectiveness_verification', approver1, 'verified');
      const end = await close(ctx, id);
      if (end.rounds.length !== 2) throw new Error(`${id}: ${end.rounds.length} rounds`);
      return id;
    },
  },
  {
    name: 'cancelled',
    description:
      'Opened on two batches, containment actions run (holds placed), cancelled as invalid by the head of QA with a signed justification before containment was confirmed; holds lifted.',
    async run(ctx) {
      const tag = randomBytes(3).toString('hex').toUpperCase();
      const id = await ctx.open({ batches: [`CA${tag}`, `CB${tag}`] });
      await ctx.waitFor(id, 'holds placed', (s) => s.containment.holds.length === 2);
      await ctx.cancel(id, ctx.people.qaHead, 'Scanner misread; serials are unique on re-scan');
      const end = await ctx.waitForEnd(id);
      if (end.stage !== 'cancelled' || end.containment.holds.some((h) => h.disposition !== 'release'))
        throw new Error(`${id}: ended ${end.stage} with holds ${JSON.stringify(end.containment.holds)}`);
      return id;
    },
  },
  {
    name: 'rejected-signature',
    description:
      'The investigation report is rejected by signature and reworked, then approved; the first closure approval is rejected and a new closure task is signed by two people.',
    async run(ctx) {
      const { qaLead, qaHead, approver1, approver2, capaOwner, investigator } = ctx.people;
      const id = await ctx.open({ lines: [lineOf()] });
      await ctx.waitFor(id, 'containment actions', (s) => Boolean(s.containment.actionsCompletedAt));
      await ctx.sign(id, 'containment_verification', qaLead, 'verified');
      await ctx.waitFor(id, 'investigation', (s) => s.stage === 'investigation');
      await investigate(ctx, id, 1, 'Operator error');
      await ctx.reject(
        id,
        'investigation_approval',
        approver1,
        '"Operator error" is not a root cause: why could the operator restart without clearing the queue?',
      );
      await ctx.waitFor(id, 'report sent back', (s) => !s.rounds[0]!.investigation.report);
      await ctx.step(id, investigator, 'root-cause-analyses', {
        analysis: {
          method: 'fishbone',
          effect: 'Serials commissioned twice',
          causes: {
            method: ['Restart procedure keeps the print queue'],
            machine: ['Printer buffer survives a restart'],
            man: ['Operator not trained on restarts'],
          },
          rootCause: { category: 'method', cause: 'Restart procedure keeps the print queue' },
        },
      });
      await ctx.step(id, investigator, 'investigation/report', {
        summary: 'Reworked: the restart procedure keeps the print queue',
        rootCause: 'Restart procedure keeps the print queue',
      });
      await ctx.sign(id, 'investigation_approval', approver2, 'approved');
      await ctx.waitFor(id, 'capa', (s) => s.stage === 'capa');
      await ctx.step(id, capaOwner, 'capa/actions', {
        type: 'corrective',
        description: 'Restart procedure clears the queue',
        owner: capaOwner.login,
        dueDate: inDays(5),
      });
      await ctx.sign(id, 'capa_plan_approval', approver1, 'approved');
      await ctx.step(id, capaOwner, 'capa/actions/A1/complete', { evidence: 'Procedure revised and trained' });
      await ctx.step(id, qaHead, 'effectiveness/decide', { effective: true, rationale: 'No recurrence in manual review' });
      await ctx.sign(id, 'effectiveness_verification', approver2, 'verified');
      const lot = (await ctx.waitFor(id, 'closure', (s) => s.stage === 'closure')).containment.holds[0]!.lot;
      await ctx.step(id, approver1, 'dispositions', { lot, disposition: 'release', reason: 'Reconciled; no duplicates shipped' });
      await ctx.reject(id, 'closure_approval', approver2, 'The disposition reason must name the reconciliation report');
      await ctx.sign(id, 'closure_approval', approver1, 'approved');
      await ctx.sign(id, 'closure_approval', qaHead, 'approved');
      const end = await ctx.waitForEnd(id);
      if (end.stage !== 'closed') throw new Error(`${id} ended ${end.stage}`);
      return id;
    },
  },
  lineMonitorScenario,
];

/** The context a scenario runs in: the API app (under the compressed policy), a Temporal client, the cast. */
export function scenarioContext(app: Express, temporal: Client, people: Cast, pool: Pool): ScenarioContext {
  const as = (p: Person) => ({ Authorization: `Bearer ${p.token}` });
  const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
  const until = async <T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        const v = await probe();
        if (v !== undefined) return v;
      } catch (err) {
        if ((err as { fatal?: boolean }).fatal) throw err;
        last = err;
      }
      await sleep(200);
    }
    throw new Error(`${what} within ${timeoutMs} ms${last ? `: ${last instanceof Error ? last.message : String(last)}` : ''}`);
  };
  /** The open task of a gate in the signer's inbox; the inbox is a read model, so a stale entry is retried. */
  const decide = (id: string, gate: Gate, signer: Person, verb: 'sign' | 'reject', body: Record<string, unknown>) =>
    until(
      async () => {
        const inbox = await request(app).get('/tasks').query({ deviation: id, gate }).set(as(signer));
        if (inbox.status !== 200) throw new Error(`GET /tasks answered ${inbox.status}`);
        const task = (inbox.body.items as Array<{ id: string }>)[0];
        if (!task) return undefined;
        const res = await request(app)
          .post(`/tasks/${task.id}/${verb}`)
          .set(as(signer))
          .send({ ...body, login: signer.login, password: signer.password });
        if (res.status === 201) return true;
        if (res.status === 409 || res.status === 404) throw new Error(`${verb} ${task.id}: ${res.status} ${JSON.stringify(res.body)}`);
        throw Object.assign(new Error(`${verb} ${task.id} answered ${res.status}: ${JSON.stringify(res.body)}`), { fatal: true });
      },
      30_000,
      `${verb} ${gate} of ${id} as ${signer.login}`,
    ).then(() => undefined);
  let apiKey: Promise<string> | undefined;
  return {
    app,
    temporal,
    people,
    sleep,
    async open(overrides = {}) {
      const tag = randomBytes(4).toString('hex').toUpperCase();
      const res = await request(app)
        .post('/deviations')
        .set(as(people.qaLead))
        .send({
          title: 'Duplicate serial numbers found in aggregation report',
          symptom: 'duplicate_serials',
          severity: 'major',
          batches: [`L${tag}`],
          description: 'The line reported SGTINs commissioned twice during the night shift.',
          ...overrides,
        });
      if (res.status !== 201) throw new Error(`opening a deviation answered ${res.status}: ${JSON.stringify(res.body)}`);
      return res.body.id as string;
    },
    step: (id, actor, path, body) =>
      until(
        async () => {
          const res = await request(app).post(`/deviations/${id}/${path}`).set(as(actor)).send(body);
          if (res.status === 200) return (res.body.deviation ?? res.body) as DeviationState;
          if (res.status === 409) throw new Error(`409 ${JSON.stringify(res.body)}`);
          throw Object.assign(new Error(`POST /deviations/${id}/${path} answered ${res.status}: ${JSON.stringify(res.body)}`), {
            fatal: true,
          });
        },
        30_000,
        `step ${path} of ${id} not accepted`,
      ),
    sign: (id, gate, signer, meaning, comment) => decide(id, gate, signer, 'sign', { meaning, ...(comment ? { comment } : {}) }),
    reject: (id, gate, signer, reason) => decide(id, gate, signer, 'reject', { reason }),
    async cancel(id, signer, justification) {
      const res = await request(app)
        .post(`/deviations/${id}/cancel`)
        .set(as(signer))
        .send({ justification, login: signer.login, password: signer.password });
      if (res.status !== 200) throw new Error(`cancel ${id} answered ${res.status}: ${JSON.stringify(res.body)}`);
      return res.body.deviation as DeviationState;
    },
    waitFor: (id, what, done, timeoutMs = 30_000) =>
      until(
        async () => {
          const res = await request(app).get(`/deviations/${id}`).set(as(people.auditor));
          if (res.status !== 200) throw new Error(`GET /deviations/${id} answered ${res.status}`);
          const state = res.body.deviation as DeviationState;
          return done(state) ? state : undefined;
        },
        timeoutMs,
        `${id}: ${what} not reached`,
      ),
    waitForEnd: (id) => temporal.workflow.getHandle(id).result() as Promise<DeviationState>,
    async captureBatch(line, opts = {}) {
      apiKey ??= createApiKey(pool, { roles: ['integration'], name: 'packaging line (replay scenarios)' }).then((k) => k.key);
      const key = await apiKey;
      const lot = `LOT-${line}-${randomBytes(3).toString('hex').toUpperCase()}`;
      const dir = mkdtempSync(path.join(tmpdir(), 'scenario-batch-'));
      try {
        const manifest = await generateBatch(
          {
            ...DEFAULT_CONFIG,
            seed: randomBytes(4).readUInt32BE() >>> 1,
            units: opts.units ?? 200,
            unitsPerCase: 20,
            casesPerPallet: 5,
            lot,
            line,
            eventsPerDocument: 500,
            startTime: new Date().toISOString(),
            plants: opts.duplicates ? { duplicate_serial: opts.duplicates } : {},
          },
          dir,
        );
        const post = async (url: string, body: unknown, ok: number[], type = 'application/json') => {
          const res = await request(app)
            .post(url)
            .set('X-API-Key', key)
            .set('Content-Type', type)
            .send(body as object);
          if (!ok.includes(res.status)) throw new Error(`POST ${url} answered ${res.status}: ${JSON.stringify(res.body).slice(0, 500)}`);
        };
        for (const p of manifest.products) await post('/products', p, [200, 201]);
        // Only the run's own batch is master data of this line; the generator's other lots stay empty.
        await post('/batches', manifest.batches[0], [200, 201]);
        for (const doc of manifest.files.documents) await post('/epcis/capture', readFileSync(path.join(dir, doc), 'utf8'), [202]);
        for (const rep of manifest.files.repositoryReports) {
          const body = JSON.parse(readFileSync(path.join(dir, rep), 'utf8')) as { lot: string };
          await post(`/batches/${encodeURIComponent(body.lot)}/repository-reports`, body, [201]);
        }
        return lot;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
