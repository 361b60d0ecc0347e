import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { bundleFromCode, replayWorkflow } from '../../audit/replay';
import { runsFromFile } from '../../scripts/audit';
import { quietTemporalRuntime, workflowBundle } from '../helpers/bundle';

/**
 * The replay regression suite: every recorded history (tests/replay/histories, recorded from real
 * runs by `npm run record-histories`) must replay against the current workflow code. A change
 * that would break running deviations fails here; guard it with patched() (docs/replay.md).
 */
const dir = path.join(__dirname, 'histories');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort();

beforeAll(() => quietTemporalRuntime());

it('has recorded histories to replay', () => {
  expect(files.length).toBeGreaterThan(0);
});

describe.each(files)('%s', (file) => {
  it('replays deterministically against the current workflow code', async () => {
    const { workflowId, runs } = runsFromFile(JSON.parse(readFileSync(path.join(dir, file), 'utf8')));
    const verdict = await replayWorkflow(bundleFromCode(workflowBundle().code), workflowId, runs);
    if (!verdict.deterministic) {
      throw new Error(
        `${file} no longer replays: ${JSON.stringify(
          verdict.runs.filter((r) => !r.deterministic),
          null,
          2,
        )}`,
      );
    }
    expect(verdict.runs.length).toBeGreaterThan(0);
  });
});
