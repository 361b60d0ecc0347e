import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { getLineMonitorStatusQuery, type LineMonitorStatus } from '../../workflows/line-monitor';
import { lineMonitorWorkflowId } from '../../workflows/messages';
import type { Scenario } from '../replay/scenarios';

/**
 * The replay fixture of the line monitor (tests/replay/histories/line-monitor.json), recorded by
 * `npm run record-histories -- line-monitor` once it is listed in SCENARIOS. Its history covers what
 * a monitor does: points judged with nothing found, a deviation opened as a child workflow, the run
 * continued as new with its queue, and in the next run a recurrence linked to that deviation by a
 * signal. The worker judges by its own policy (the production thresholds: any duplicate serial).
 *
 * Each point is recorded by an on-demand reconciliation (POST /batches/:lot/reconciliation, run by the
 * QA lead), which tells the line's monitor as the end-of-batch signal does. The monitor never
 * finishes: the scenario ends when the second run has carried out the link, and its last run is
 * recorded as far as it got (a prefix of a history replays like a whole one).
 */
export const lineMonitorScenario: Scenario = {
  name: 'line-monitor',
  description:
    'A line monitor: two clean batches judged, a batch with duplicate serials opens a deviation (a child workflow), the run continues as new, and a second such batch is linked to the open deviation by a signal.',
  async run(ctx) {
    const line = `RM-${randomBytes(3).toString('hex').toUpperCase()}`;
    const workflowId = lineMonitorWorkflowId(line);
    const judgedUpTo = async (points: number, done: (s: LineMonitorStatus) => boolean = () => true) => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const status = await ctx.temporal.workflow
          .getHandle(workflowId)
          .query(getLineMonitorStatusQuery)
          .catch(() => null);
        if (status && status.evaluated >= points && status.pending.length === 0 && done(status)) return status;
        if (Date.now() > deadline) throw new Error(`${workflowId}: ${points} point(s) not judged: ${JSON.stringify(status)}`);
        await ctx.sleep(200);
      }
    };
    let points = 0;
    const point = async (opts: { duplicates?: number }) => {
      const lot = await ctx.captureBatch(line, opts);
      const res = await request(ctx.app)
        .post(`/batches/${encodeURIComponent(lot)}/reconciliation`)
        .set({ Authorization: `Bearer ${ctx.people.qaLead.token}` });
      if (res.status !== 201) throw new Error(`reconciling ${lot} answered ${res.status}: ${JSON.stringify(res.body)}`);
      points += 1;
      return lot;
    };
    await point({});
    await judgedUpTo(points);
    await point({});
    await judgedUpTo(points);
    const first = (await ctx.temporal.workflow.getHandle(workflowId).describe()).runId;
    await point({ duplicates: 2 });
    await judgedUpTo(points);
    // The run that opened the deviation continued as new once its queue was empty.
    const opened = await ctx.temporal.workflow.getHandle(workflowId, first).describe();
    if (opened.status.name !== 'CONTINUED_AS_NEW')
      throw new Error(`${workflowId}: the run that opened a deviation did not continue as new`);
    await point({ duplicates: 1 });
    await judgedUpTo(points, (s) => s.actions.some((a) => a.startsWith('link ')));
    return workflowId;
  },
};
