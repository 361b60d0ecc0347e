import { readFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { bundleFromCode, replayWorkflow, type ReplayBundle } from '../../audit/replay';
import { runsFromFile } from '../../scripts/audit';
import { quietTemporalRuntime, workflowBundle } from '../helpers/bundle';

/**
 * The archive sweep's watermark (`archive-sweep-watermark` in workflows/archive.ts) changed which
 * activities a sweep calls: the sweep now passes its start time to the search and records the sweep
 * at the end. A sweep runs for seconds, but one in flight during a deploy is replayed by the new
 * code. Both histories were recorded by scripts/record-sweep-history.ts, the first with the workflow
 * code of the commit before the change.
 */
const dir = path.join(__dirname, 'histories');
const load = (file: string) => {
  const json = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
  return { json, ...runsFromFile(json) };
};

type Event = {
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string } | null } | null;
  markerRecordedEventAttributes?: {
    markerName?: string | null;
    details?: Record<string, { payloads?: Array<{ data?: unknown }> }> | null;
  } | null;
};
const events = (json: { runs: Array<{ events: Event[] }> }) => json.runs.flatMap((r) => r.events);
const activities = (json: { runs: Array<{ events: Event[] }> }) =>
  events(json)
    .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
    .filter(Boolean);
const patchMarkers = (json: { runs: Array<{ events: Event[] }> }) =>
  events(json)
    .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')
    .map((e) => {
      const data = e.markerRecordedEventAttributes!.details!['patch-data']!.payloads![0]!.data as string;
      return (JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as { id: string }).id;
    });

async function bundleWithoutWatermark(): Promise<ReplayBundle> {
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
      resolve: {
        ...config.resolve,
        alias: {
          ...(config.resolve?.alias as object),
          '@temporalio/workflow$': require.resolve('./fixtures/without-archive-sweep-watermark'),
        },
      },
    }),
  });
  return bundleFromCode(b.code);
}

beforeAll(() => quietTemporalRuntime());

describe('patched("archive-sweep-watermark"): sweeps begun before and after the change both replay', () => {
  const before = load('archive-sweep.before-archive-sweep-watermark.json');
  const after = load('archive-sweep.current.json');
  const current = () => bundleFromCode(workflowBundle().code);

  it('the sweep recorded before the change has no marker and records nothing; the one after has both', () => {
    expect(patchMarkers(before.json)).toEqual([]);
    expect(activities(before.json)).toEqual(['findUnarchivedDeviationRuns', 'archiveDeviationRun']);
    expect(patchMarkers(after.json)).toEqual(['archive-sweep-watermark']);
    expect(activities(after.json)).toEqual(['findUnarchivedDeviationRuns', 'archiveDeviationRun', 'recordArchiveSweep']);
  });

  it.each([
    ['before', before],
    ['after', after],
  ])('the sweep recorded %s the change replays deterministically against the current code', async (_when, h) => {
    const verdict = await replayWorkflow(current(), h.workflowId, h.runs);
    expect(verdict.runs.map((r) => r.error?.message ?? 'ok')).toEqual(h.runs.map(() => 'ok'));
    expect(verdict.deterministic).toBe(true);
  });

  it('taking the watermark out again while marked sweeps run is caught at the marker', async () => {
    const verdict = await replayWorkflow(await bundleWithoutWatermark(), after.workflowId, after.runs);
    expect(verdict.deterministic).toBe(false);
    expect(verdict.runs[0]!.error?.message).toMatch(/patch marker encountered for change archive-sweep-watermark/);
  });
});
