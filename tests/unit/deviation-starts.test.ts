import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { DeviationStarts, OPENINGS_FIRST_MS } from '../../containment/deviation-starts';
import type { Pool } from '../../db/pool';
import { createLogger } from '../../lib/logger';
import type { DeviationInput } from '../../workflows/types';
import { eventually } from '../helpers/eventually';

/**
 * The order the workflow starts of opened deviations take against the openings themselves, with the
 * relay's neighbours (Temporal's client, the pool) stood in for: openings first under a burst, and
 * never more starts at once than allowed. The outbox against a real server and database is
 * tests/lifecycle/opening-without-temporal.test.ts.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const input = (id: string) => ({ id, title: id }) as unknown as DeviationInput;

function relay(opts: { startMs?: number; concurrency?: number; fail?: (id: string) => Error | undefined } = {}) {
  const started: string[] = [];
  const marked: string[] = [];
  let inFlight = 0;
  let mostAtOnce = 0;
  const temporal = {
    withDeadline: (_deadline: number, fn: () => Promise<unknown>) => fn(),
    workflow: {
      async start(_type: string, options: { workflowId: string }) {
        inFlight++;
        mostAtOnce = Math.max(mostAtOnce, inFlight);
        started.push(options.workflowId);
        await sleep(opts.startMs ?? 0);
        inFlight--;
        const failure = opts.fail?.(options.workflowId);
        if (failure) throw failure;
        return { firstExecutionRunId: 'run' };
      },
    },
  };
  const pool = {
    ending: false,
    async query(sql: string, params: unknown[]) {
      if (sql.includes('SET started_at')) marked.push(...(params[0] as string[]));
      return { rows: [], rowCount: 0 };
    },
  };
  const starts = new DeviationStarts({
    pool: pool as unknown as Pool,
    temporal: temporal as unknown as Client,
    taskQueue: 'q',
    log: createLogger('test', 'silent'),
    concurrency: opts.concurrency,
  });
  return { starts, started, marked, mostAtOnce: () => mostAtOnce };
}

it('holds a start back while an opening is in progress, and starts it once the opening ends', async () => {
  const { starts, started, marked } = relay();
  let finish!: () => void;
  const opening = starts.opening(() => new Promise<void>((resolve) => (finish = resolve)));
  starts.kick(input('DEV-A'));
  await sleep(100);
  expect(started).toEqual([]);
  finish();
  await opening;
  await eventually(async () => (marked.includes('DEV-A') ? true : undefined), 2_000, 10);
  expect(started).toEqual(['DEV-A']);
});

it('lets a start wait for openings only so long, then goes one at a time while they last', async () => {
  const { starts, started, mostAtOnce } = relay({ startMs: 50, concurrency: 8 });
  let finish!: () => void;
  const opening = starts.opening(() => new Promise<void>((resolve) => (finish = resolve)));
  const kickedAt = Date.now();
  for (const id of ['DEV-A', 'DEV-B', 'DEV-C']) starts.kick(input(id));
  await eventually(async () => (started.length === 3 ? true : undefined), OPENINGS_FIRST_MS + 3_000, 10);
  expect(Date.now() - kickedAt).toBeGreaterThanOrEqual(OPENINGS_FIRST_MS);
  expect(mostAtOnce()).toBe(1);
  finish();
  await opening;
  await starts.stop();
});

it('starts at most `concurrency` at once when no opening is in progress', async () => {
  const { starts, started, mostAtOnce } = relay({ startMs: 30, concurrency: 3 });
  for (let i = 0; i < 10; i++) starts.kick(input(`DEV-${i}`));
  await eventually(async () => (started.length === 10 ? true : undefined), 5_000, 10);
  await starts.stop();
  expect(mostAtOnce()).toBe(3);
});

it('counts a workflow that already exists as started, and leaves a failed start unmarked for the sweep', async () => {
  const { starts, marked } = relay({
    fail: (id) =>
      id === 'DEV-THERE'
        ? new WorkflowExecutionAlreadyStartedError('already started', id, 'DeviationWorkflow')
        : id === 'DEV-AWAY'
          ? new Error('Temporal unreachable')
          : undefined,
  });
  await starts.start(input('DEV-THERE'));
  await expect(starts.start(input('DEV-AWAY'))).rejects.toThrow('Temporal unreachable');
  expect(marked).toEqual(['DEV-THERE']);
});
