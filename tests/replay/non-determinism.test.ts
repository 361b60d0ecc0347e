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
    // The altered code's first command schedules traceShipments. The recorded first command is where
    // they part: findRecurrences scheduled (deviations started before holds-first) or the
    // holds-first patch marker (those started since, local-activities-in-turn or not).
    const events = runs[0]!.history.events!;
    const firstCommand = events[events.findIndex((e) => e.workflowTaskCompletedEventAttributes) + 1]!;
    const recorded = firstCommand.activityTaskScheduledEventAttributes
      ? { type: 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED', name: firstCommand.activityTaskScheduledEventAttributes.activityType?.name }
      : { type: 'EVENT_TYPE_MARKER_RECORDED', name: patchIdOf(firstCommand) };
    expect(recorded.name).toBe(/\.before-(holds-first|reminder-before-due)\b/.test(file) ? 'findRecurrences' : 'holds-first');
    expect(run.divergence).toMatchObject({ eventId: Number(firstCommand.eventId), eventType: recorded.type });
  });
});

/** The patch a marker event records (the SDK's patch markers carry it in their details). */
function patchIdOf(event: {
  markerRecordedEventAttributes?: { markerName?: string | null; details?: unknown } | null;
}): string | undefined {
  const marker = event.markerRecordedEventAttributes;
  if (marker?.markerName !== 'core_patch') return undefined;
  const data = (marker.details as Record<string, { payloads?: Array<{ data?: Uint8Array | string }> }> | undefined)?.['patch-data']
    ?.payloads?.[0]?.data;
  if (!data) return undefined;
  const text = typeof data === 'string' ? Buffer.from(data, 'base64').toString('utf8') : Buffer.from(data).toString('utf8');
  return (JSON.parse(text) as { id?: string }).id;
}
