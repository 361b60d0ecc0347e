import { createHash } from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Pool } from '../db/pool';
import { historyFromJsonObject, historyToJsonText, type History } from './history-json';

/**
 * A workflow's complete record: every run, oldest first (a workflow that continued as new has one
 * run per continuation). Each run's `text` is exactly what `temporal workflow show --output json`
 * prints for it, so an auditor's own tools read it, and `sha256` is over those bytes.
 */
export interface RunHistory {
  runId: string;
  text: string;
  sha256: string;
  history: History;
}

export interface WorkflowRecord {
  workflowId: string;
  source: 'temporal' | 'archive';
  runs: RunHistory[];
}

export const sha256Hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** The CLI ends its output with a newline; the export does the same so the bytes match. */
export function runFromHistory(runId: string, history: History): RunHistory {
  const text = `${historyToJsonText(history)}\n`;
  return { runId, text, sha256: sha256Hex(text), history };
}

/** One run's history, read from Temporal. */
export async function fetchRun(client: Client, workflowId: string, runId: string): Promise<RunHistory> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  return runFromHistory(runId, history);
}

/**
 * Every run from Temporal, following `continuedExecutionRunId` back from the latest run; undefined
 * when Temporal does not know the workflow (never started, or gone after retention or deletion).
 */
export async function fetchRunsFromTemporal(client: Client, workflowId: string, latestRunId?: string): Promise<RunHistory[] | undefined> {
  let runId: string;
  try {
    runId = latestRunId ?? (await client.workflow.getHandle(workflowId).describe()).runId;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
  const runs: RunHistory[] = [];
  for (let guard = 0; guard < 10_000; guard++) {
    let run: RunHistory;
    try {
      run = await fetchRun(client, workflowId, runId);
    } catch (err) {
      // An earlier run may already be past retention while a later one is not; the archive has it.
      if (err instanceof WorkflowNotFoundError && runs.length > 0) break;
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
    runs.unshift(run);
    const previous = run.history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId;
    if (!previous) break;
    runId = previous;
  }
  return runs;
}

interface ArchivedRow {
  run_id: string;
  history: string;
  sha256: string;
}

/** Archived runs of a workflow, oldest first, each checked against its stored hash. */
export async function readArchivedRuns(pool: Pool, workflowId: string): Promise<RunHistory[]> {
  const { rows } = await pool.query<ArchivedRow>(
    'SELECT run_id, history, sha256 FROM workflow_archives WHERE workflow_id = $1 ORDER BY started_at, id',
    [workflowId],
  );
  return rows.map((r) => {
    if (sha256Hex(r.history) !== r.sha256) throw new Error(`archived history of ${workflowId} run ${r.run_id} does not match its SHA-256`);
    return { runId: r.run_id, text: r.history, sha256: r.sha256, history: historyFromJsonObject(JSON.parse(r.history)) };
  });
}

/**
 * The workflow's record from Temporal when it still has it, else from the archive. Runs Temporal
 * already dropped (older continuations past retention) are filled in from the archive.
 */
export async function loadWorkflowRecord(deps: { temporal: Client; pool: Pool }, workflowId: string): Promise<WorkflowRecord | undefined> {
  const live = await fetchRunsFromTemporal(deps.temporal, workflowId);
  if (live && live.length > 0) {
    const first = live[0]!.history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId;
    if (!first) return { workflowId, source: 'temporal', runs: live };
    const archived = await readArchivedRuns(deps.pool, workflowId);
    const known = new Set(live.map((r) => r.runId));
    return { workflowId, source: 'temporal', runs: [...archived.filter((r) => !known.has(r.runId)), ...live] };
  }
  const archived = await readArchivedRuns(deps.pool, workflowId);
  return archived.length ? { workflowId, source: 'archive', runs: archived } : undefined;
}

/**
 * The export's JSON: every run in CLI form, plus where it came from. Each element of `runs` is
 * itself a valid history file (`{"events": [...]}`, the run ID riding along as an extra field
 * every proto3 JSON reader ignores).
 */
export function recordToJson(record: WorkflowRecord): string {
  const runs = record.runs.map(
    (r) => `{"runId":${JSON.stringify(r.runId)},"sha256":"${r.sha256}","events":${JSON.stringify(JSON.parse(r.text).events)}}`,
  );
  return `{"workflowId":${JSON.stringify(record.workflowId)},"source":"${record.source}","runs":[${runs.join(',')}]}\n`;
}
