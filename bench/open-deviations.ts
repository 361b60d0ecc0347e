/**
 * npm run bench:open-deviations [-- --deviations 10000 --clients 20 --rate 0 --window-seconds 60 --alone 3 --requests 100]
 *
 * Many deviations open at once, their containment clocks running, on a stack of the benchmark's own
 * (bench/product-stack.ts) under a compressed policy: the production policy's containment clock with
 * an hour read as a minute (window 60 s, reminders at 30, 45 and 55 s; --window-seconds scales it).
 * Nobody confirms containment, so every deviation sends each reminder, then its escalation and SLA
 * breach. --rate paces the opening (deviations a second, all clients together; 0: each client sends
 * its next request when the last is answered): the clocks then run out at the pace the deviations
 * were opened, so the rate, not the compression, decides how many timers fire each second.
 * Measured:
 *   timers    lateness of each timer-driven event against its due time, from the records: the
 *             notification's created_at (the outbox row the event writes) against the deviation's
 *             detected_at plus the policy's offset;
 *             baseline: the same for a few deviations opened alone before the others
 *   memory    the worker's and the API's peak RSS (the kernel's high-water mark);
 *             baseline: their RSS once started, idle
 *   reading   GET /deviations (the board's list, several filters) and GET /tasks (a QA lead's inbox,
 *             which holds every open containment task) once every event has fired, one request at
 *             a time; baseline: the same requests while only the first few deviations exist
 * Results: bench/results/open-deviations-<date and time>.{json,md}. Never part of the test suite.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadPolicy } from '../lib/policy';
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

const TARGETS = { timerLatenessP99Ms: 1000, workerPeakMB: 1024, readP99Ms: 200 };

interface Options {
  deviations: number;
  clients: number;
  rate: number;
  windowSeconds: number;
  alone: number;
  requests: number;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      deviations: { type: 'string', default: '10000' },
      clients: { type: 'string', default: '20' },
      rate: { type: 'string', default: '0' },
      'window-seconds': { type: 'string', default: '60' },
      alone: { type: 'string', default: '3' },
      requests: { type: 'string', default: '100' },
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
    rate: int('rate', values.rate, 0, 10_000),
    windowSeconds: int('window-seconds', values['window-seconds'], 12, 24 * 3600),
    alone: int('alone', values.alone, 1, 50),
    requests: int('requests', values.requests, 10, 10_000),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number) => Math.round(x * 100) / 100;

/** Production's containment clock (reminders at 30, 45 and 55 of 60 minutes), scaled to the window. */
function reminderOffsets(windowSeconds: number): number[] {
  return [30, 45, 55].map((m) => Math.round((windowSeconds * m) / 60));
}

/**
 * The compressed policy file: policies/compressed.json with containment's clock as above for every
 * severity (the other clocks, an hour there, never start while containment is unconfirmed).
 */
function writePolicy(windowSeconds: number): string {
  const policy = JSON.parse(readFileSync(path.join(root, 'policies', 'compressed.json'), 'utf8')) as {
    name: string;
    version: string;
    severities: Record<string, { containmentWindow: string; containmentReminders: string[] }>;
  };
  policy.name = `open-deviations-benchmark (containment in ${windowSeconds} s)`;
  for (const severity of Object.values(policy.severities)) {
    severity.containmentWindow = `${windowSeconds} seconds`;
    severity.containmentReminders = reminderOffsets(windowSeconds).map((s) => `${s} seconds`);
  }
  const dir = path.join(root, '.data', 'bench');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `open-deviations-policy-${Date.now().toString(36)}.json`);
  writeFileSync(file, JSON.stringify(policy, null, 2));
  loadPolicy(file); // refuses a policy the product would refuse, before anything starts
  return file;
}

/** Every containment reminder and escalation the deviations' clocks wrote, with its lateness. */
async function timerEvents(
  stack: ProductStack,
  ids: string[],
  windowSeconds: number,
): Promise<{ event: string; latenessMs: number; deviation: string }[]> {
  const offsets = reminderOffsets(windowSeconds);
  const { rows } = await stack.pool.query<{ deviation: string; key: string; since_ms: number }>(
    `SELECT n.deviation_id AS deviation, n.dedupe_key AS key,
            extract(epoch FROM n.created_at - d.detected_at) * 1000 AS since_ms
       FROM notifications n JOIN deviations d ON d.id = n.deviation_id
      WHERE n.deviation_id = ANY($1)
        AND (n.dedupe_key LIKE '%:containment:reminder:%' OR n.dedupe_key LIKE '%:containment:escalation')`,
    [ids],
  );
  return rows.map((r) => {
    const reminder = /:containment:reminder:(\d+)$/.exec(r.key);
    const dueSeconds = reminder ? offsets[Number(reminder[1]) - 1] : windowSeconds;
    if (dueSeconds === undefined) throw new Error(`unexpected reminder ${r.key}`);
    return {
      event: reminder ? `reminder ${reminder[1]} (${dueSeconds} s)` : `escalation and SLA breach (${windowSeconds} s)`,
      latenessMs: Number(r.since_ms) - dueSeconds * 1000,
      deviation: r.deviation,
    };
  });
}

async function breachedCount(stack: ProductStack, ids: string[]): Promise<number> {
  const { rows } = await stack.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM deviations WHERE id = ANY($1) AND sla_breached', [
    ids,
  ]);
  return rows[0]?.n ?? 0;
}

async function escalatedCount(stack: ProductStack, ids: string[]): Promise<number> {
  const { rows } = await stack.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM notifications WHERE deviation_id = ANY($1) AND dedupe_key LIKE '%:containment:escalation'`,
    [ids],
  );
  return rows[0]?.n ?? 0;
}

/** What a QA lead reads: the board's list (newest first and filtered) and the inbox, one request at a time. */
async function readLatencies(stack: ProductStack, reader: BenchUser, size: number, requests: number) {
  const lists = [
    '/deviations',
    '/deviations?stage=containment&overdue=true',
    '/deviations?q=Benchmark%20deviation%2012',
    `/deviations?offset=${Math.floor(size / 2)}`,
  ];
  const inboxes = ['/tasks', '/tasks?overdue=true'];
  const byRequest: Record<string, Distribution> = {};
  const all = { list: [] as number[], inbox: [] as number[] };
  for (const [kind, urls] of [
    ['list', lists],
    ['inbox', inboxes],
  ] as const) {
    for (const url of urls) {
      const times: number[] = [];
      for (let i = 0; i < requests; i++) {
        const answer = await call(stack.apiUrl, 'GET', url, { token: reader.token });
        expectStatus(`GET ${url}`, answer, 200);
        times.push(answer.ms);
      }
      byRequest[url] = distribution(times);
      all[kind].push(...times);
    }
  }
  return { list: distribution(all.list), inbox: distribution(all.inbox), byRequest };
}

interface Results {
  date: string;
  code: string;
  machine: MachineDescription;
  /** The machine's load averages (1, 5, 15 minutes) when the run began and ended. */
  loadAverage: { atStart: number[]; atEnd: number[] };
  settings: Options & { reminderOffsetsSeconds: number[]; policy: string };
  opening: { seconds: number; perSecond: number; latencyMs: Distribution };
  timers: {
    allMs: Distribution;
    byEventMs: Record<string, Distribution>;
    expected: number;
    found: number;
    slaBreached: number;
    aloneMs: Distribution;
    lastEventAfterOpeningSeconds: number;
    /** Timer events over the time from the first to the last of them: what the stack kept up with. */
    perSecond: number;
  };
  memory: { workerPeakMB: number | null; apiPeakMB: number | null; workerIdleMB: number | null; apiIdleMB: number | null };
  reading: {
    atSize: Awaited<ReturnType<typeof readLatencies>>;
    baseline: Awaited<ReturnType<typeof readLatencies>>;
    baselineSize: number;
  };
  totalSeconds: number;
  targets: typeof TARGETS;
}

async function main(): Promise<void> {
  const opts = options();
  const loadAtStart = loadAverage();
  const runStarted = performance.now();
  const runTag = randomBytes(2).toString('hex').toUpperCase();
  const policyFile = writePolicy(opts.windowSeconds);
  let stack: ProductStack | null = null;
  stopOnSignals(() => stack);
  stack = await startProductStack({ task: 'open_deviations', policyFile });
  try {
    const s = stack;
    const machine = await describeMachine(s.pool);
    log(`machine: ${JSON.stringify(machine)}`);
    const idle = { worker: s.worker.memory(), api: s.api.memory() };
    const leads = await signedInUsers(s, 'qa_lead', opts.clients);
    const windowMs = opts.windowSeconds * 1000;
    let n = 0;

    log(`baseline: ${opts.alone} deviations alone, their clocks run out (${opts.windowSeconds} s)`);
    const aloneIds: string[] = [];
    for (let i = 0; i < opts.alone; i++) {
      const answer = await call(s.apiUrl, 'POST', '/deviations', { token: leads[0]!.token, body: deviationRequest(n++, runTag) });
      expectStatus('POST /deviations', answer, 201);
      aloneIds.push((answer.body as { id: string }).id);
    }
    const aloneDeadline = Date.now() + windowMs + 120_000;
    while ((await escalatedCount(s, aloneIds)) < aloneIds.length) {
      if (Date.now() > aloneDeadline) throw new Error('the deviations opened alone did not escalate in time');
      await sleep(500);
    }
    const aloneEvents = await timerEvents(s, aloneIds, opts.windowSeconds);
    const baselineReading = await readLatencies(s, leads[0]!, aloneIds.length, opts.requests);

    log(
      `opening ${opts.deviations} deviations through POST /deviations, ${opts.clients} clients at once` +
        (opts.rate ? `, ${opts.rate} a second` : ''),
    );
    const first = n;
    const items = Array.from({ length: opts.deviations }, () => n++);
    const ids: string[] = [];
    const latencies: number[] = [];
    let lastProgress = Date.now();
    const openingStarted = performance.now();
    await withClients(items, opts.clients, async (k, client) => {
      if (opts.rate) await sleep(openingStarted + ((k - first) * 1000) / opts.rate - performance.now());
      const answer = await call(s.apiUrl, 'POST', '/deviations', { token: leads[client]!.token, body: deviationRequest(k, runTag) });
      expectStatus('POST /deviations', answer, 201);
      ids.push((answer.body as { id: string }).id);
      latencies.push(answer.ms);
      if (Date.now() - lastProgress > 15_000) {
        lastProgress = Date.now();
        log(`opened ${ids.length} of ${opts.deviations}; worker RSS ${mb(s.worker.memory()?.rss)} MB`);
      }
    });
    const openingSeconds = (performance.now() - openingStarted) / 1000;
    const openingEnded = Date.now();
    log(`opened ${ids.length} in ${openingSeconds.toFixed(1)} s; waiting for every clock to run out`);

    // Generous: a stack that falls behind still finishes, and its lateness is the finding.
    const deadline = Date.now() + windowMs + 600_000 + opts.deviations * 200;
    for (;;) {
      const escalated = await escalatedCount(s, ids);
      if (escalated >= ids.length) break;
      if (Date.now() > deadline) throw new Error(`only ${escalated} of ${ids.length} deviations escalated in time`);
      log(`escalated ${escalated} of ${ids.length}; worker RSS ${mb(s.worker.memory()?.rss)} MB, API ${mb(s.api.memory()?.rss)} MB`);
      await sleep(15_000);
    }
    // The board follows the escalation by one activity: read it once it shows every breach (or a minute on).
    const breachDeadline = Date.now() + 60_000;
    while ((await breachedCount(s, ids)) < ids.length && Date.now() < breachDeadline) await sleep(1000);
    const events = await timerEvents(s, ids, opts.windowSeconds);
    const { rows: spanRows } = await s.pool.query<{ first: Date; last: Date }>(
      `SELECT min(created_at) AS first, max(created_at) AS last FROM notifications
        WHERE deviation_id = ANY($1) AND (dedupe_key LIKE '%:containment:reminder:%' OR dedupe_key LIKE '%:containment:escalation')`,
      [ids],
    );
    const span = spanRows[0]!;
    const slaBreached = await breachedCount(s, ids);
    log('every clock has run out; reading the board and the inbox');
    const reading = await readLatencies(s, leads[0]!, ids.length + aloneIds.length, opts.requests);

    const byEvent: Record<string, number[]> = {};
    for (const e of events) (byEvent[e.event] ??= []).push(e.latenessMs);
    const results: Results = {
      date: new Date().toISOString(),
      code: describeCode(root),
      machine,
      loadAverage: { atStart: loadAtStart, atEnd: loadAverage() },
      settings: { ...opts, reminderOffsetsSeconds: reminderOffsets(opts.windowSeconds), policy: path.basename(policyFile) },
      opening: { seconds: round(openingSeconds), perSecond: round(ids.length / openingSeconds), latencyMs: distribution(latencies) },
      timers: {
        allMs: distribution(events.map((e) => e.latenessMs)),
        byEventMs: Object.fromEntries(Object.entries(byEvent).map(([k, v]) => [k, distribution(v)])),
        expected: ids.length * 4,
        found: events.length,
        slaBreached,
        aloneMs: distribution(aloneEvents.map((e) => e.latenessMs)),
        lastEventAfterOpeningSeconds: round((span.last.getTime() - openingEnded) / 1000),
        perSecond: round(events.length / Math.max(0.001, (span.last.getTime() - span.first.getTime()) / 1000)),
      },
      memory: {
        workerPeakMB: mb(s.worker.memory()?.peakRss),
        apiPeakMB: mb(s.api.memory()?.peakRss),
        workerIdleMB: mb(idle.worker?.rss),
        apiIdleMB: mb(idle.api?.rss),
      },
      reading: { atSize: reading, baseline: baselineReading, baselineSize: aloneIds.length },
      totalSeconds: round((performance.now() - runStarted) / 1000),
      targets: TARGETS,
    };
    writeResults(results, s.profiled);
  } finally {
    await stack.stop();
    rmSync(policyFile, { force: true });
  }
}

/** Prints the figures; a profiled run's (BENCH_CPU_PROFILE) are not written as results. */
function writeResults(r: Results, profiled: boolean): void {
  const dir = path.join(root, 'bench', 'results');
  const name = `open-deviations-${resultStamp(r.date)}`;
  if (!profiled) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, `${name}.json`), `${JSON.stringify(r, null, 2)}\n`);
  }
  const t = r.targets;
  const m = r.machine;
  const size = r.settings.deviations + r.reading.baselineSize;
  const rows = (reading: Results['reading']['atSize']) =>
    Object.entries(reading.byRequest)
      .map(([url, d]) => `\`GET ${url}\` ${describe(d)}`)
      .join('; ');
  const md = `# Open deviations benchmark, ${r.date}

Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; ${m.os}; Node ${m.node}; ${m.postgres}. Load average (1, 5, 15 min): ${r.loadAverage.atStart.join(', ')} at the start, ${r.loadAverage.atEnd.join(', ')} at the end.

Code: ${r.code}.

Settings: ${r.settings.deviations} deviations opened by ${r.settings.clients} clients at once${r.settings.rate ? `, paced at ${r.settings.rate} a second` : ''}; containment window ${r.settings.windowSeconds} s, reminders at ${r.settings.reminderOffsetsSeconds.join(', ')} s (production's 60-minute clock, an hour read as ${r.settings.windowSeconds} s); ${r.settings.alone} deviations alone first. Whole run ${Math.round(r.totalSeconds)} s.

Opening: ${r.opening.perSecond} deviations/s (${r.opening.seconds} s), POST /deviations ${describe(r.opening.latencyMs)}. The last timer event came ${r.timers.lastEventAfterOpeningSeconds} s after the last deviation was opened; the timer events came at ${r.timers.perSecond} per second from the first to the last.

| measure | product, ${size} deviations open | baseline (same run) | target | |
| --- | --- | --- | --- | --- |
| timer lateness, every reminder and escalation | ${describe(r.timers.allMs)} | ${r.reading.baselineSize} deviations alone: ${describe(r.timers.aloneMs)} | p99 ≤ ${t.timerLatenessP99Ms} ms | ${verdict(r.timers.allMs.p99 <= t.timerLatenessP99Ms)} |
| worker peak RSS | ${r.memory.workerPeakMB ?? '?'} MB | idle after start: ${r.memory.workerIdleMB ?? '?'} MB | ≤ ${t.workerPeakMB} MB | ${verdict(r.memory.workerPeakMB !== null && r.memory.workerPeakMB <= t.workerPeakMB)} |
| API peak RSS | ${r.memory.apiPeakMB ?? '?'} MB | idle after start: ${r.memory.apiIdleMB ?? '?'} MB | — | |
| GET /deviations (board list) | ${describe(r.reading.atSize.list)} | ${r.reading.baselineSize} deviations: ${describe(r.reading.baseline.list)} | p99 ≤ ${t.readP99Ms} ms | ${verdict(r.reading.atSize.list.p99 <= t.readP99Ms)} |
| GET /tasks (QA lead's inbox) | ${describe(r.reading.atSize.inbox)} | ${r.reading.baselineSize} deviations: ${describe(r.reading.baseline.inbox)} | p99 ≤ ${t.readP99Ms} ms | ${verdict(r.reading.atSize.inbox.p99 <= t.readP99Ms)} |

Timer events found: ${r.timers.found} of ${r.timers.expected} expected (three reminders and one escalation per deviation); deviations marked SLA-breached on the board: ${r.timers.slaBreached} of ${r.settings.deviations}.

Lateness by event: ${Object.entries(r.timers.byEventMs)
    .map(([k, d]) => `${k}: ${describe(d)}`)
    .join('; ')}.

Each request at size: ${rows(r.reading.atSize)}.

Each request, baseline: ${rows(r.reading.baseline)}.

How it is measured: the stack is the benchmark's own (database, Temporal dev server in memory, the product's
worker and API processes, the policy above). Nobody confirms containment, so each deviation's clock sends its
three reminders, then the escalation with the SLA breach (one moment, one outbox row). An event's lateness is
its outbox row's \`created_at\` (the start of the transaction of the activity that wrote it) minus its due time,
the deviation's \`detected_at\` plus the policy's offset: it holds the timer's own delay, the workflow task and
the activity's scheduling. Peak RSS is the kernel's high-water mark (VmHWM) of each process. Reading: ${r.settings.requests}
requests of each URL above, one at a time, as a QA lead whose inbox holds every open containment task, once
every clock has run out; the list's default page is 100.
`;
  if (profiled) process.stdout.write('\n[bench] profiled run: no results file written\n');
  else writeFileSync(path.join(dir, `${name}.md`), md);
  process.stdout.write(`\n${md}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`[bench] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
