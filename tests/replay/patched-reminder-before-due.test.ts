import { readFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { bundleFromCode, replayWorkflow, type ReplayBundle } from '../../audit/replay';
import { runsFromFile } from '../../scripts/audit';
import { quietTemporalRuntime, workflowBundle } from '../helpers/bundle';

/**
 * One real patched() change, replayed both ways. `reminder-before-due` (watchDeadline in
 * workflows/deviation.ts) added a reminder before every due date. The `.before-reminder-before-due`
 * history was recorded by the recorder with the workflow code of the commit before that change
 * (docs/replay.md tells how); the other was recorded with the current code. Both are the same
 * scenario, driven through the API.
 */
const dir = path.join(__dirname, 'histories');
const load = (file: string) => {
  const json = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
  return { json, ...runsFromFile(json) };
};
const OLD = 'containment-escalated.before-reminder-before-due.json';
const NEW = 'containment-escalated.json';

type Event = {
  eventType?: unknown;
  markerRecordedEventAttributes?: {
    markerName?: string | null;
    details?: Record<string, { payloads?: Array<{ data?: unknown }> }> | null;
  } | null;
  timerStartedEventAttributes?: { startToFireTimeout?: unknown } | null;
};
/** The patch IDs of a history's patch markers, read from the recorded file (proto3 JSON). */
function patchMarkers(json: { runs: Array<{ events: Event[] }> }): string[] {
  return json.runs
    .flatMap((r) => r.events)
    .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')
    .map((e) => {
      const data = e.markerRecordedEventAttributes!.details!['patch-data']!.payloads![0]!.data as string;
      return (JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as { id: string }).id;
    });
}
const timers = (json: { runs: Array<{ events: Event[] }> }) =>
  json.runs
    .flatMap((r) => r.events)
    .filter((e) => e.timerStartedEventAttributes)
    .map((e) => parseFloat(String(e.timerStartedEventAttributes!.startToFireTimeout)));

/** The current workflow code, with '@temporalio/workflow' replaced by a fixture that overrides patched(). */
async function bundleWithWorkflowApi(fixture: string): Promise<ReplayBundle> {
  const b = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    logger: {
      log: () => undefined,
      trace: () => undefined,
      debug: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      error: () => undefined,
    },
    webpackConfigHook: (config) => ({
      ...config,
      resolve: { ...config.resolve, alias: { ...(config.resolve?.alias as object), '@temporalio/workflow$': require.resolve(fixture) } },
    }),
  });
  return bundleFromCode(b.code);
}

beforeAll(() => quietTemporalRuntime());

describe('patched("reminder-before-due"): old and new deviations both replay', () => {
  const oldHistory = load(OLD);
  const newHistory = load(NEW);
  const current = () => bundleFromCode(workflowBundle().code);

  it('the history recorded before the change has no marker; the one recorded after has it', () => {
    expect(oldHistory.json.scenario).toBe(newHistory.json.scenario);
    expect(oldHistory.json.recordedWith).toBe('before-reminder-before-due');
    expect(patchMarkers(oldHistory.json)).toEqual([]);
    // The newer code carries this patch and later ones (holds-first and local-activities-in-turn at the
    // start, effectiveness-decision-flag, also on this path).
    expect(patchMarkers(newHistory.json)).toEqual([
      'holds-first',
      'local-activities-in-turn',
      'reminder-before-due',
      'effectiveness-decision-flag',
    ]);
  });

  it('the new branch shows in the new history: the CAPA action due date is watched from an hour before it', () => {
    // The compressed policy's reminder interval is an hour: the new code's first timer on the CAPA
    // action's due date (5 days out) ends an hour before it, the old code's at the due date itself.
    const long = (t: number[]) => t.filter((x) => x > 86_400);
    const [oldA1] = long(timers(oldHistory.json));
    const [newA1] = long(timers(newHistory.json));
    expect(oldA1! - newA1!).toBeGreaterThan(3_600 - 60);
    expect(oldA1! - newA1!).toBeLessThan(3_600 + 60);
  });

  it('the old history replays deterministically against the current code (taking the old branch)', async () => {
    const verdict = await replayWorkflow(current(), oldHistory.workflowId, oldHistory.runs);
    expect(verdict.runs.map((r) => r.error?.message ?? 'ok')).toEqual(oldHistory.runs.map(() => 'ok'));
    expect(verdict.deterministic).toBe(true);
  });

  it('the new history replays deterministically against the current code (taking the new branch)', async () => {
    const verdict = await replayWorkflow(current(), newHistory.workflowId, newHistory.runs);
    expect(verdict.runs.map((r) => r.error?.message ?? 'ok')).toEqual(newHistory.runs.map(() => 'ok'));
    expect(verdict.deterministic).toBe(true);
  });

  it('taking the branch out again while marked deviations run is caught at the marker (deprecatePatch first)', async () => {
    const withoutBranch = await bundleWithWorkflowApi('./fixtures/without-patch-branch');
    const verdict = await replayWorkflow(withoutBranch, newHistory.workflowId, newHistory.runs);
    expect(verdict.deterministic).toBe(false);
    expect(verdict.runs[0]!.error?.message).toMatch(/patch marker encountered for change reminder-before-due/);
    expect(verdict.runs[0]!.divergence?.eventType).toBe('EVENT_TYPE_MARKER_RECORDED');
  });

  it('a limit of replay: the change without its guard replays the old history too (timer durations are not compared)', async () => {
    // The unguarded code starts the same number of timers, only shorter ones, and Temporal matches
    // a timer by its sequence, not its duration: replay passes, yet a running deviation would get
    // its "due soon" reminder at the due date. patched() is needed whether or not the suite fails.
    const unguarded = await bundleWithWorkflowApi('./fixtures/without-patch-guard');
    const verdict = await replayWorkflow(unguarded, oldHistory.workflowId, oldHistory.runs);
    expect(verdict.deterministic).toBe(true);
  });
});
