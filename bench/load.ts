/**
 * npm run bench:load [-- --deviations 200 --clients 20 --singles 5]
 *
 * Deviations opened under load, on a stack of the benchmark's own (bench/product-stack.ts: its own
 * database and Temporal dev server, the product's worker and API processes, the production policy):
 *   start rate    N deviations opened through POST /deviations by C clients at once, each a QA lead
 *                 sending its next request when the last is answered;
 *                 baseline: N DeviationWorkflow starts sent straight to the same Temporal server with
 *                 client.workflow.start, C at once, the input the API would build (the API's own work,
 *                 number, validation, authentication, audit, is what the ratio shows)
 *                 (answered once the holds, the request's record and the workflow's start are committed);
 *                 also, from the first request to the last of their workflows started (the API starts
 *                 each from its recorded start right after answering), against the same baseline
 *   start latency each POST /deviations, from sending to its answer
 *   holds         detection to holds placed, from PostgreSQL: each hold's placed_at against the
 *                 deviation's detected_at in the read model, for the N opened under load;
 *                 baseline: the same for deviations opened one at a time with nothing else running
 *   sign-off      containment verification of each of the N, C signers at once: the task looked up in
 *                 the signer's inbox, signed through the API (login and password again), until the
 *                 deviation's stage moved to investigation (in its record, and on the board)
 * Results: bench/results/load-<date and time>.{json,md}. Never part of the test suite.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { formatDeviationId, openDeviationSchema } from '../domain/deviation';
import { PRODUCTION_POLICY, resolvePolicy } from '../domain/policy';
import type { DeviationWorkflow } from '../workflows/deviation';
import type { DeviationInput } from '../workflows/types';
import { describeCode } from './code-version';
import { describe, distribution, resultStamp, verdict, type Distribution } from './figures';
import { describeMachine, type MachineDescription } from './machine';
import {
  call,
  deviationRequest,
  expectStatus,
  loadAverage,
  log,
  mb,
  root,
  signedInUsers,
  startProductStack,
  stopOnSignals,
  withClients,
  type BenchUser,
  type ProductStack,
} from './product-stack';
import { cpuSpent, readCpu, type CpuReading } from './process-cpu';

const TARGETS = { rateRatio: 0.7, startP99Ms: 250, holdsP99Ms: 2000, holdsToSingle: 5 };
/** Raw starts take numbers far above the API's sequence, so the two never meet. */
const RAW_NUMBERS_FROM = 900_001;

function options(): { deviations: number; clients: number; singles: number } {
  const { values } = parseArgs({
    options: {
      deviations: { type: 'string', default: '200' },
      clients: { type: 'string', default: '20' },
      singles: { type: 'string', default: '5' },
    },
  });
  const int = (name: string, raw: string | undefined, min: number, max: number) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be a whole number from ${min} to ${max}`);
    return n;
  };
  return {
    deviations: int('deviations', values.deviations, 1, 100_000),
    clients: int('clients', values.clients, 1, 500),
    singles: int('singles', values.singles, 1, 100),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until every listed deviation satisfies `sql` (a count of ids), polling the database. */
async function waitForAll(stack: ProductStack, what: string, ids: string[], sql: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastReport = Date.now();
  for (;;) {
    const { rows } = await stack.pool.query<{ n: number }>(sql, [ids]);
    const n = rows[0]?.n ?? 0;
    if (n >= ids.length) return;
    if (Date.now() > deadline) throw new Error(`${what}: ${n} of ${ids.length} after ${timeoutMs / 1000} s`);
    if (Date.now() - lastReport > 10_000) {
      log(`${what}: ${n} of ${ids.length}`);
      lastReport = Date.now();
    }
    await sleep(ids.length === 1 ? 10 : 100);
  }
}

/** Holds placed, and the read model's row that holds the detection time (its snapshot follows the holds). */
const HOLDS_PLACED = `SELECT count(DISTINCT h.deviation_id)::int AS n
  FROM holds h JOIN deviations d ON d.id = h.deviation_id
 WHERE h.deviation_id = ANY($1)`;
/** The containment task is opened after every containment action, so its row means the deviation has settled. */
const CONTAINMENT_TASK_OPEN = `SELECT count(*)::int AS n FROM signoff_tasks WHERE deviation_id = ANY($1) AND gate = 'containment_verification'`;

/** Detection to the last of its holds placed, per deviation, from the records in PostgreSQL. */
async function holdLatencies(stack: ProductStack, ids: string[]): Promise<number[]> {
  const { rows } = await stack.pool.query<{ ms: number }>(
    `SELECT extract(epoch FROM max(h.placed_at) - d.detected_at) * 1000 AS ms
       FROM deviations d JOIN holds h ON h.deviation_id = d.id
      WHERE d.id = ANY($1)
      GROUP BY d.id, d.detected_at`,
    [ids],
  );
  if (rows.length !== ids.length) throw new Error(`holds and detection times found for ${rows.length} of ${ids.length} deviations`);
  return rows.map((r) => Number(r.ms));
}

/**
 * When each deviation's workflow started, as Temporal recorded it, against its detection: the API
 * answers once the holds and the start are recorded, and starts the workflow from that record right
 * after (so this is how far the workflows trail their holds). Clocks: the API's and the dev server's,
 * both this machine's.
 */
async function workflowStarts(
  stack: ProductStack,
  temporal: Client,
  ids: string[],
): Promise<{ afterDetectionMs: number[]; lastAt: number }> {
  const { rows } = await stack.pool.query<{ id: string; detected: Date }>(
    'SELECT id, detected_at AS detected FROM deviations WHERE id = ANY($1)',
    [ids],
  );
  const afterDetectionMs: number[] = [];
  let lastAt = 0;
  for (const r of rows) {
    const started = (await temporal.workflow.getHandle(r.id).describe()).startTime.getTime();
    afterDetectionMs.push(started - r.detected.getTime());
    lastAt = Math.max(lastAt, started);
  }
  return { afterDetectionMs, lastAt };
}

async function openThroughApi(stack: ProductStack, user: BenchUser, body: Record<string, unknown>): Promise<{ id: string; ms: number }> {
  const answer = await call(stack.apiUrl, 'POST', '/deviations', { token: user.token, body });
  expectStatus('POST /deviations', answer, 201);
  return { id: (answer.body as { id: string }).id, ms: answer.ms };
}

/**
 * Watches the read model for deviations that reached a stage, one query for all of them, and
 * resolves each waiter with the moment it was seen (so the figure is late by at most one poll).
 */
function stageWatcher(stack: ProductStack, stage: string) {
  const waiting = new Map<string, (at: number) => void>();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      if (waiting.size) {
        const { rows } = await stack.pool.query<{ id: string }>('SELECT id FROM deviations WHERE id = ANY($1) AND stage = $2', [
          [...waiting.keys()],
          stage,
        ]);
        const at = performance.now();
        for (const { id } of rows) {
          waiting.get(id)?.(at);
          waiting.delete(id);
        }
      }
      await sleep(20);
    }
  })();
  return {
    reached: (id: string) => new Promise<number>((resolve) => waiting.set(id, resolve)),
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

interface Results {
  date: string;
  code: string;
  machine: MachineDescription;
  /** The machine's load averages (1, 5, 15 minutes) when the run began and ended. */
  loadAverage: { atStart: number[]; atEnd: number[] };
  settings: { deviations: number; clients: number; singles: number; policy: string };
  start: {
    api: { seconds: number; perSecond: number; latencyMs: Distribution };
    raw: { seconds: number; perSecond: number; latencyMs: Distribution };
    ratio: number;
    /** From the first request to the last of their workflows started (Temporal's start time): every start carried out. */
    workflows: { seconds: number; perSecond: number; ratio: number };
  };
  holds: {
    underLoadMs: Distribution;
    rawStartsMs: Distribution;
    singleMs: Distribution;
    singleValuesMs: number[];
    toSingle: number;
    /** Detection → the workflow started, under load (see workflowStarts). */
    detectionToWorkflowMs: Distribution;
  };
  signoff: { roundTripMs: Distribution; recordedMs: Distribution; signRequestMs: Distribution; inboxMs: Distribution };
  memory: { workerPeakMB: number | null; apiPeakMB: number | null };
  /** CPU seconds by process over each start phase's wall time (first call to last answer). */
  cpu: { raw: CpuReading; api: CpuReading };
  targets: typeof TARGETS;
}

async function main(): Promise<void> {
  const opts = options();
  const loadAtStart = loadAverage();
  const runTag = randomBytes(2).toString('hex').toUpperCase();
  let stack: ProductStack | null = null;
  stopOnSignals(() => stack);
  stack = await startProductStack({ task: 'load' });
  const connection = await Connection.connect({ address: stack.temporalAddress });
  try {
    const s = stack;
    const temporal = new Client({ connection, namespace: 'default' });
    const machine = await describeMachine(s.pool);
    log(`machine: ${JSON.stringify(machine)}`);
    const leads = await signedInUsers(s, 'qa_lead', opts.clients);
    let n = 0;

    // The first deviation pays for loading the workflow code into the worker: not measured.
    log('warm-up: one deviation');
    const warm = await openThroughApi(s, leads[0]!, deviationRequest(n++, runTag));
    await waitForAll(s, 'warm-up settled', [warm.id], CONTAINMENT_TASK_OPEN, 120_000);

    log(`single: ${opts.singles} deviations, each opened alone and left to settle`);
    const singleIds: string[] = [];
    for (let i = 0; i < opts.singles; i++) {
      const single = await openThroughApi(s, leads[0]!, deviationRequest(n++, runTag));
      await waitForAll(s, 'single settled', [single.id], CONTAINMENT_TASK_OPEN, 120_000);
      singleIds.push(single.id);
    }
    const singleValues = await holdLatencies(s, singleIds);

    log(`baseline: ${opts.deviations} DeviationWorkflow starts straight to Temporal, ${opts.clients} at once`);
    const year = new Date().getUTCFullYear();
    const rawItems = Array.from({ length: opts.deviations }, (_, i) => ({ id: formatDeviationId(year, RAW_NUMBERS_FROM + i), n: n++ }));
    const rawLatencies: number[] = [];
    const cpuSources = {
      processes: { api: s.api.child.pid, worker: s.worker.child.pid, temporal: s.temporalPid, benchmark: process.pid },
    };
    let cpuBefore = readCpu(cpuSources);
    let started = performance.now();
    await withClients(rawItems, opts.clients, async ({ id, n: k }, client) => {
      const request = openDeviationSchema.parse(deviationRequest(k, runTag));
      const input: DeviationInput = {
        ...request,
        reportedBy: leads[client]!.login,
        id,
        detectedAt: new Date().toISOString(),
        policy: resolvePolicy(PRODUCTION_POLICY, request.severity),
      };
      const t0 = performance.now();
      await temporal.workflow.start<typeof DeviationWorkflow>('DeviationWorkflow', {
        workflowId: id,
        taskQueue: s.taskQueue,
        args: [input],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        workflowIdConflictPolicy: 'FAIL',
        memo: { title: request.title },
      });
      rawLatencies.push(performance.now() - t0);
    });
    const rawSeconds = (performance.now() - started) / 1000;
    const rawCpu = cpuSpent(cpuBefore, readCpu(cpuSources));
    const rawIds = rawItems.map((r) => r.id);
    log(`baseline: ${(opts.deviations / rawSeconds).toFixed(1)} starts/s; waiting for them to settle`);
    await waitForAll(s, 'raw starts settled', rawIds, CONTAINMENT_TASK_OPEN, 600_000);
    const rawHolds = await holdLatencies(s, rawIds);

    log(`load: ${opts.deviations} deviations through POST /deviations, ${opts.clients} clients at once`);
    const apiItems = Array.from({ length: opts.deviations }, () => n++);
    const apiLatencies: number[] = [];
    const apiIds: string[] = [];
    cpuBefore = readCpu(cpuSources);
    started = performance.now();
    const startedWall = Date.now();
    await withClients(apiItems, opts.clients, async (k, client) => {
      const opened = await openThroughApi(s, leads[client]!, deviationRequest(k, runTag));
      apiLatencies.push(opened.ms);
      apiIds.push(opened.id);
    });
    const apiSeconds = (performance.now() - started) / 1000;
    const apiCpu = cpuSpent(cpuBefore, readCpu(cpuSources));
    log(`load: ${(opts.deviations / apiSeconds).toFixed(1)} deviations/s; waiting for their holds`);
    await waitForAll(s, 'holds placed', apiIds, HOLDS_PLACED, 600_000);
    const loadHolds = await holdLatencies(s, apiIds);
    await waitForAll(s, 'load settled', apiIds, CONTAINMENT_TASK_OPEN, 600_000);
    const workflows = await workflowStarts(s, temporal, apiIds);
    const workflowSeconds = (workflows.lastAt - startedWall) / 1000;

    log(`sign-off: containment verification of the ${opts.deviations}, ${opts.clients} signers at once`);
    const watcher = stageWatcher(s, 'investigation');
    const roundTrips: number[] = [];
    const signRequests: number[] = [];
    const inboxRequests: number[] = [];
    const beganWall = new Map<string, number>();
    try {
      await withClients(apiIds, opts.clients, async (id, client) => {
        const signer = leads[client]!;
        const reached = watcher.reached(id);
        const t0 = performance.now();
        beganWall.set(id, Date.now());
        let taskId: string | undefined;
        for (let attempt = 0; !taskId; attempt++) {
          const inbox = await call(s.apiUrl, 'GET', `/tasks?deviation=${encodeURIComponent(id)}&gate=containment_verification`, {
            token: signer.token,
          });
          expectStatus('GET /tasks', inbox, 200);
          inboxRequests.push(inbox.ms);
          taskId = (inbox.body as { items: Array<{ id: string }> }).items[0]?.id;
          if (!taskId && attempt > 50) throw new Error(`no containment task for ${id} in the inbox`);
          if (!taskId) await sleep(100);
        }
        const signed = await call(s.apiUrl, 'POST', `/tasks/${encodeURIComponent(taskId)}/sign`, {
          token: signer.token,
          body: { meaning: 'verified', login: signer.login, password: signer.password },
        });
        expectStatus('POST /tasks/:id/sign', signed, 201);
        signRequests.push(signed.ms);
        roundTrips.push((await reached) - t0);
      });
    } finally {
      await watcher.stop();
    }
    // The record's own time of the move: the read model's updated_at is the last transition's time.
    const { rows: moved } = await s.pool.query<{ id: string; at: Date }>(
      `SELECT id, updated_at AS at FROM deviations WHERE id = ANY($1) AND stage = 'investigation'`,
      [apiIds],
    );
    const recorded = moved.map((r) => r.at.getTime() - beganWall.get(r.id)!);

    const apiStart = { seconds: round(apiSeconds), perSecond: round(opts.deviations / apiSeconds), latencyMs: distribution(apiLatencies) };
    const rawStart = { seconds: round(rawSeconds), perSecond: round(opts.deviations / rawSeconds), latencyMs: distribution(rawLatencies) };
    const single = distribution(singleValues);
    const underLoad = distribution(loadHolds);
    const results: Results = {
      date: new Date().toISOString(),
      code: describeCode(root),
      machine,
      loadAverage: { atStart: loadAtStart, atEnd: loadAverage() },
      settings: { ...opts, policy: `${PRODUCTION_POLICY.name} ${PRODUCTION_POLICY.version}` },
      start: {
        api: apiStart,
        raw: rawStart,
        ratio: round(apiStart.perSecond / rawStart.perSecond),
        workflows: {
          seconds: round(workflowSeconds),
          perSecond: round(opts.deviations / workflowSeconds),
          ratio: round(opts.deviations / workflowSeconds / rawStart.perSecond),
        },
      },
      holds: {
        underLoadMs: underLoad,
        rawStartsMs: distribution(rawHolds),
        singleMs: single,
        singleValuesMs: singleValues.map((v) => Math.round(v)),
        toSingle: round(underLoad.p99 / single.p50),
        detectionToWorkflowMs: distribution(workflows.afterDetectionMs),
      },
      signoff: {
        roundTripMs: distribution(roundTrips),
        recordedMs: distribution(recorded),
        signRequestMs: distribution(signRequests),
        inboxMs: distribution(inboxRequests),
      },
      memory: { workerPeakMB: mb(s.worker.memory()?.peakRss), apiPeakMB: mb(s.api.memory()?.peakRss) },
      cpu: { raw: rawCpu, api: apiCpu },
      targets: TARGETS,
    };
    writeResults(results, s.profiled);
  } finally {
    await connection.close();
    await stack.stop();
  }
}

const round = (x: number) => Math.round(x * 100) / 100;

const CPU_LABELS: Record<string, string> = {
  api: 'API process',
  worker: 'worker process',
  temporal: 'Temporal dev server',
  postgres: 'PostgreSQL (all its processes)',
  benchmark: 'this benchmark (the clients)',
  machine: 'the whole machine (every core)',
};

function cpuRows(r: Results): string {
  const cell = (seconds: number | null | undefined, wall: number) =>
    seconds === null || seconds === undefined
      ? '?'
      : `${seconds.toFixed(2)} s (${((1000 * seconds) / r.settings.deviations).toFixed(1)} ms a start, ${((100 * seconds) / wall).toFixed(0)} % of a core)`;
  return Object.entries(CPU_LABELS)
    .map(([key, label]) => `| ${label} | ${cell(r.cpu.raw[key], r.start.raw.seconds)} | ${cell(r.cpu.api[key], r.start.api.seconds)} |`)
    .join('\n');
}

/** Prints the figures; a profiled run's (BENCH_CPU_PROFILE) are not written as results. */
function writeResults(r: Results, profiled: boolean): void {
  const dir = path.join(root, 'bench', 'results');
  const name = `load-${resultStamp(r.date)}`;
  if (!profiled) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, `${name}.json`), `${JSON.stringify(r, null, 2)}\n`);
  }
  const t = r.targets;
  const m = r.machine;
  const md = `# Load benchmark, ${r.date}

Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; ${m.os}; Node ${m.node}; ${m.postgres}. Load average (1, 5, 15 min): ${r.loadAverage.atStart.join(', ')} at the start, ${r.loadAverage.atEnd.join(', ')} at the end.

Code: ${r.code}.

Settings: ${r.settings.deviations} deviations, ${r.settings.clients} clients at once, ${r.settings.singles} single deviations; policy ${r.settings.policy}.

| measure | product | baseline (same run) | ratio | target | |
| --- | --- | --- | --- | --- | --- |
| start rate | ${r.start.api.perSecond} deviations/s opened (held, start recorded) through POST /deviations (${r.start.api.seconds} s) | ${r.start.raw.perSecond} starts/s, \`client.workflow.start\` of DeviationWorkflow (${r.start.raw.seconds} s) | ${r.start.ratio}× | ≥ ${t.rateRatio}× the raw rate | ${verdict(r.start.ratio >= t.rateRatio)} |
| start latency | ${describe(r.start.api.latencyMs)} | raw start: ${describe(r.start.raw.latencyMs)} | — | p99 ≤ ${t.startP99Ms} ms | ${verdict(r.start.api.latencyMs.p99 <= t.startP99Ms)} |
| detection → holds placed, under load | ${describe(r.holds.underLoadMs)} | one deviation alone: ${describe(r.holds.singleMs)} | p99 = ${r.holds.toSingle}× the single p50 | p99 ≤ ${t.holdsP99Ms} ms | ${verdict(r.holds.underLoadMs.p99 <= t.holdsP99Ms)} |
| | | | | p99 ≤ ${t.holdsToSingle}× single | ${verdict(r.holds.toSingle <= t.holdsToSingle)} |
| workflows started | ${r.start.workflows.perSecond}/s: the last of the ${r.settings.deviations} workflows started ${r.start.workflows.seconds} s after the first request | ${r.start.raw.perSecond} starts/s | ${r.start.workflows.ratio}× | — | |
| sign-off round trip (inbox → signed → stage moved, on the board) | ${describe(r.signoff.roundTripMs)} | — | — | — | |

Also measured:
- detection → the deviation's workflow started (Temporal's start time), under load: ${describe(r.holds.detectionToWorkflowMs)};
- detection → holds of the workflows started straight to Temporal (the baseline's deviations): ${describe(r.holds.rawStartsMs)};
- single deviations, each value (ms): ${r.holds.singleValuesMs.join(', ')};
- sign-off, until the move in the deviation's record (the read model's \`updated_at\`, the workflow's time of the transition): ${describe(r.signoff.recordedMs)};
- the signing request alone (re-authentication, ledger, workflow Update): ${describe(r.signoff.signRequestMs)}; the inbox request: ${describe(r.signoff.inboxMs)};
- peak RSS: worker ${r.memory.workerPeakMB ?? '?'} MB, API ${r.memory.apiPeakMB ?? '?'} MB.

CPU seconds spent while the starts ran (from the first call to the last answer; the worker also runs the
deviations already started, in both phases), and per start:

| process | baseline: ${r.start.raw.seconds} s of wall time | through the API: ${r.start.api.seconds} s |
| --- | --- | --- |
${cpuRows(r)}

How it is measured: the stack is the benchmark's own (database, Temporal dev server in memory, the product's
worker and API processes, the production policy). Start rate is deviations over the wall time from the
first request to the last answer; each of the ${r.settings.clients} clients sends its next request when the
last is answered. The baseline ran first, on the same server and worker, and its deviations settled (every
containment task open) before the load began. Detection → holds is \`holds.placed_at − deviations.detected_at\`
(the API's clock at the request, the database's at the hold's transaction), per deviation; the single figure is
deviations opened one at a time, each settled before the next, before any load. The sign-off round trip starts
when the signer asks the inbox for the task and ends when the board's read model shows the deviation in
investigation (polled every 20 ms, one query for all, so up to about 20 ms late); the signers are the QA leads
who opened the deviations.
`;
  if (profiled) process.stdout.write('\n[bench] profiled run: no results file written\n');
  else writeFileSync(path.join(dir, `${name}.md`), md);
  process.stdout.write(`\n${md}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`[bench] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
