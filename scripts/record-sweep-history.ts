/**
 * Records a history of the ArchiveClosedDeviations workflow for the replay suite
 * (tests/replay/patched-archive-sweep-watermark.test.ts), on a dev server of its own.
 *
 *   node --import tsx scripts/record-sweep-history.ts SUFFIX [WORKFLOWS_DIR]
 *
 * writes tests/replay/histories/archive-sweep.SUFFIX.json. WORKFLOWS_DIR is the workflows folder
 * of the code to record with (default: this checkout's); for the code before a change, check that
 * commit out elsewhere (`git worktree add`) and name its workflows folder. The activities answer with
 * one fixed closed deviation to archive: replay never runs activities, it only reads their results
 * from the history, so what the sweep would find in a real archive does not matter here.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { ArchiveActivities } from '../workflows/activity-contracts';
import { runFromHistory } from '../audit/history';
import { startDevServer } from '../lib/dev-server';
import { temporalBinaries } from '../lib/temporal-binaries';

async function main(): Promise<void> {
  const [suffix, workflowsDir = path.join(__dirname, '..', 'workflows')] = process.argv.slice(2);
  if (!suffix || !/^[a-z0-9-]+$/.test(suffix))
    throw new Error('usage: record-sweep-history.ts SUFFIX [WORKFLOWS_DIR] (SUFFIX: lowercase letters, digits, dashes)');
  const server = await startDevServer({ cli: temporalBinaries().cli, headless: true });
  try {
    const activities: ArchiveActivities = {
      findUnarchivedDeviationRuns: async () => [
        { workflowId: 'DEV-2026-000042', runId: '6f1c2b8e-2a8d-4d6e-9a57-0d4c1f2e3a4b', closeTime: '2026-11-29T10:00:00.000Z' },
      ],
      archiveDeviationRun: async (ref) => [{ workflowId: ref.workflowId, runId: ref.runId, sha256: '0'.repeat(64), inserted: true }],
      recordArchiveSweep: async ({ listedAt }) => ({ archivedBefore: listedAt }),
    };
    const taskQueue = 'record-archive-sweep';
    const worker = await Worker.create({
      connection: await NativeConnection.connect({ address: server.address }),
      taskQueue,
      workflowsPath: require.resolve(path.resolve(workflowsDir)),
      activities,
    });
    const client = new Client({ connection: await Connection.connect({ address: server.address }) });
    const workflowId = `archive-sweep-${suffix}`;
    await worker.runUntil(client.workflow.execute('ArchiveClosedDeviations', { workflowId, taskQueue }));
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    const file = path.join(__dirname, '..', 'tests', 'replay', 'histories', `archive-sweep.${suffix}.json`);
    const { runId } = await client.workflow.getHandle(workflowId).describe();
    // (each run as the API's history export writes it: proto3 JSON, as `temporal workflow show` does)
    const run = JSON.parse(runFromHistory(runId, history).text) as object;
    writeFileSync(file, `${JSON.stringify({ recordedWith: suffix, workflowId, runs: [{ runId, ...run }] }, null, 2)}\n`);
    process.stdout.write(`wrote ${path.relative(process.cwd(), file)} (${history.events?.length ?? 0} events)\n`);
    await client.connection.close();
  } finally {
    await server.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  },
);
