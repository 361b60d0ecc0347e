import type { Router } from 'express';
import { temporal as proto } from '@temporalio/proto';
import { pingDatabase } from '../../db/pool';
import type { ApiContext } from '../context';
import { declaredRoutes, type RouteSpec } from '../route';

const TIMEOUT_MS = 2000;
/**
 * A worker long-polls its task queue and polls again as soon as a poll returns (at the latest
 * after about a minute on an idle queue), so a poller not seen for longer than this is gone.
 */
export const POLLER_SEEN_WITHIN_MS = 90_000;

type Check = { status: 'up' | 'down'; error?: string };

function withTimeout<T>(promise: Promise<T>): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${TIMEOUT_MS} ms`)), TIMEOUT_MS).unref()),
  ]);
}

async function check(probe: () => Promise<unknown>): Promise<Check> {
  try {
    await withTimeout(probe());
    return { status: 'up' };
  } catch (err) {
    return { status: 'down', error: err instanceof Error ? err.message : String(err) };
  }
}

function millisOf(ts: { seconds?: number | { toNumber(): number } | null; nanos?: number | null } | null | undefined): number {
  if (!ts) return 0;
  return Number(ts.seconds ?? 0) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}

/** Workers polling the deviation task queue, from Temporal's own view (DescribeTaskQueue). */
async function workerCheck(ctx: ApiContext): Promise<Check & { pollers?: number }> {
  try {
    const answer = await withTimeout(
      ctx.temporal.workflowService.describeTaskQueue({
        namespace: ctx.config.TEMPORAL_NAMESPACE,
        taskQueue: { name: ctx.config.TEMPORAL_TASK_QUEUE, kind: proto.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        taskQueueType: proto.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      }),
    );
    const now = Date.now();
    const live = (answer.pollers ?? []).filter((p) => now - millisOf(p.lastAccessTime) <= POLLER_SEEN_WITHIN_MS).length;
    return live > 0
      ? { status: 'up', pollers: live }
      : { status: 'down', pollers: 0, error: `no worker polls the task queue ${ctx.config.TEMPORAL_TASK_QUEUE}` };
  } catch (err) {
    return { status: 'down', error: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * 200 only when PostgreSQL and Temporal answer and at least one worker polls the deviation task
 * queue; otherwise 503 naming what is down. A dead worker leaves every deviation's clocks and
 * steps waiting, so it is as much an outage as a dead database.
 */
export const HEALTH_ROUTES = {
  health: {
    method: 'get',
    path: '/health',
    summary: 'PostgreSQL and Temporal answer and a worker polls the deviation task queue (200), or not (503)',
    access: 'public',
  },
} satisfies Record<string, RouteSpec>;

export function healthRoutes(ctx: ApiContext): Router {
  const routes = declaredRoutes(ctx);
  routes.add(HEALTH_ROUTES.health, async (_req, res) => {
    const [postgres, temporal, worker] = await Promise.all([
      check(() => pingDatabase(ctx.pool)),
      check(() => ctx.temporal.connection.workflowService.getSystemInfo({})),
      workerCheck(ctx),
    ]);
    const ok = postgres.status === 'up' && temporal.status === 'up' && worker.status === 'up';
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'degraded', checks: { postgres, temporal, worker } });
  });
  return routes.router;
}
