import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflows, replayWorkflow, type ReplayBundle } from '../../audit/replay';
import { runsFromFile } from '../../scripts/audit';
import { quietTemporalRuntime } from '../helpers/bundle';

/** The replay suite catches a non-deterministic change: every recorded history against deliberately altered code. */
const dir = path.join(__dirname, 'histories');
// The altered code changes the deviation workflow: the histories of deviations (not of archive sweeps).
const workflowType = (file: string) =>
  runsFromFile(JSON.parse(readFileSync(path.join(dir, file), 'utf8'))).runs[0]?.history.events?.[0]?.workflowExecutionStartedEventAttributes
    ?.workflowType?.name;
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.json') && workflowType(f) === 'DeviationWorkflow')
  .sort();

it('has deviation histories to alter', () => {
  expect(files.length).toBeGreaterThanOrEqual(5);
});
let altered: ReplayBundle;
beforeAll(async () => {
  quietTemporalRuntime();
  altered = await bundleWorkflows(require.resolve('./fixtures/altered-deviation'));
});

describe.each(files)('%s', (file) => {
  it('a deliberately non-deterministic workflow change is caught, naming the first diverging event', async () => {
    const { workflowId, runs } = runsFromFile(JSON.parse(readFileSync(path.join(dir, file), 'utf8')));

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
});
