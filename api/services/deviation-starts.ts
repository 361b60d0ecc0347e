import { DeviationStarts } from '../../containment/deviation-starts';
import type { ApiContext } from '../context';

const byContext = new WeakMap<ApiContext, DeviationStarts>();

/** The API's workflow starts (containment/deviation-starts.ts): one outbox relay per context, made on first use. */
export function deviationStarts(ctx: ApiContext): DeviationStarts {
  let starts = byContext.get(ctx);
  if (!starts) {
    starts = new DeviationStarts({ pool: ctx.pool, temporal: ctx.temporal, taskQueue: ctx.config.TEMPORAL_TASK_QUEUE, log: ctx.log });
    byContext.set(ctx, starts);
  }
  return starts;
}
