import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflows, replayWorkflow } from '../../audit/replay';
import { runsFromFile } from '../../scripts/audit';
import { quietTemporalRuntime } from '../helpers/bundle';

/** The replay suite catches a non-deterministic change: a recorded history against deliberately altered code. */
it('a deliberately non-deterministic workflow change is caught, naming the first diverging event', async () => {
  quietTemporalRuntime();
  const dir = path.join(__dirname, 'histories');
  const file = readdirSync(dir).filter((f) => f.endsWith('.json')).sort()[0]!;
  const { workflowId, runs } = runsFromFile(JSON.parse(readFileSync(path.join(dir, file), 'utf8')));
  const altered = await bundleWorkflows(require.resolve('./fixtures/altered-deviation'));

  const verdict = await replayWorkflow(altered, workflowId, runs);

  expect(verdict.deterministic).toBe(false);
  const run = verdict.runs[0]!;
  expect(run.error?.kind).toBe('nondeterminism');
  // The original schedules findRecurrences first; the altered code schedules traceShipments: the
  // first ActivityTaskScheduled event is where they part.
  const events = runs[0]!.history.events!;
  const firstScheduled = events.find((e) => e.activityTaskScheduledEventAttributes)!;
  expect(run.divergence).toMatchObject({ eventId: Number(firstScheduled.eventId), eventType: 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED' });
});
