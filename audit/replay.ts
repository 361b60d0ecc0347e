import { createHash } from 'node:crypto';
import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker, bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import type { History } from './history-json';

/**
 * Replay verification: a recorded history is fed to the current workflow code with the SDK's
 * replayer; the code must issue, step by step, the commands the history records. When it does
 * not, the verdict names the first event where they part.
 *
 * What the SDK gives on a mismatch: a DeterminismViolationError whose message is Core's text,
 * e.g. "[TMPRL1100] Nondeterminism error: ... HistoryEvent(id: 12, TimerStarted) ..." or
 * "Activity type of scheduled event 'x' does not match activity type of activity command 'y'".
 * The event ID is not a field of the error, and not every message carries it. So the verdict
 * reports what the message says (sdkEventId when present) and finds the first diverging event
 * itself by bisection: replaying ever shorter prefixes of the history (a prefix that stops
 * before the first mismatching event replays cleanly, one that includes it fails).
 */
export interface RunVerdict {
  runId: string;
  events: number;
  deterministic: boolean;
  error?: { kind: 'nondeterminism' | 'replay_error'; message: string };
  divergence?: { eventId: number; eventType: string; sdkEventId?: number; sdkEventType?: string };
}

export interface ReplayVerdict {
  workflowId: string;
  deterministic: boolean;
  /** SHA-256 of the workflow bundle replayed against: which code the verdict is about. */
  codeSha256: string;
  runs: RunVerdict[];
}

export interface ReplayBundle {
  code: string;
  sha256: string;
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (m: string) => process.stderr.write(`${m}\n`),
};

export function bundleFromCode(code: string): ReplayBundle {
  return { code, sha256: createHash('sha256').update(code).digest('hex') };
}

let current: Promise<ReplayBundle> | undefined;
/** The workflow code this process would run, bundled once on first use (a few seconds). */
export function currentWorkflowBundle(workflowsPath = require.resolve('../workflows')): Promise<ReplayBundle> {
  current ??= bundleWorkflowCode({ workflowsPath, logger: quietLogger }).then((b: WorkflowBundle) => bundleFromCode(b.code));
  current.catch(() => {
    current = undefined;
  });
  return current;
}

/** Bundles any workflow module (tests build deliberately altered code this way). */
export async function bundleWorkflows(workflowsPath: string): Promise<ReplayBundle> {
  const b = await bundleWorkflowCode({ workflowsPath, logger: quietLogger });
  return bundleFromCode(b.code);
}

type Outcome = { ok: true } | { ok: false; kind: 'nondeterminism' | 'replay_error'; message: string };

async function replayOnce(bundle: ReplayBundle, history: History, workflowId: string): Promise<Outcome> {
  try {
    await Worker.runReplayHistory({ workflowBundle: { code: bundle.code } }, history, workflowId);
    return { ok: true };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, kind: err instanceof DeterminismViolationError ? 'nondeterminism' : 'replay_error', message };
  }
}

const eventTypeName = (t: unknown): string => {
  if (typeof t === 'string') return t;
  return typeof t === 'number' ? `EVENT_TYPE_${t}` : 'unknown';
};

/** What the SDK's message names, when it names anything. */
export function parseSdkMessage(message: string): { eventId?: number; eventType?: string } {
  const m = /HistoryEvent\s*\(\s*id:\s*(\d+)\s*,\s*(?:Some\()?\s*([A-Za-z]+)/.exec(message) ?? /event[ _]?id[:=\s]+(\d+)/i.exec(message);
  if (!m) return {};
  return { eventId: Number(m[1]), ...(m[2] ? { eventType: m[2] } : {}) };
}

/** Events a workflow task's completion records (its commands): a prefix may end on one. */
const COMMAND_EVENTS = [
  'activityTaskScheduledEventAttributes',
  'activityTaskCancelRequestedEventAttributes',
  'timerStartedEventAttributes',
  'timerCanceledEventAttributes',
  'markerRecordedEventAttributes',
  'startChildWorkflowExecutionInitiatedEventAttributes',
  'signalExternalWorkflowExecutionInitiatedEventAttributes',
  'requestCancelExternalWorkflowExecutionInitiatedEventAttributes',
  'upsertWorkflowSearchAttributesEventAttributes',
  'workflowPropertiesModifiedEventAttributes',
  'workflowExecutionUpdateAcceptedEventAttributes',
  'workflowExecutionUpdateCompletedEventAttributes',
  'workflowExecutionCompletedEventAttributes',
  'workflowExecutionFailedEventAttributes',
  'workflowExecutionCanceledEventAttributes',
  'workflowExecutionContinuedAsNewEventAttributes',
] as const;

/**
 * The smallest prefix length whose replay fails: its last event is where the code and the record
 * part. Prefixes start at the first WorkflowTaskStarted: a history of the start event alone never
 * yields a workflow task, and the replayer would wait on it forever.
 *
 * A prefix is replayed only up to the end of its last completed workflow task (the completion and
 * the commands it recorded). Events after that (a task scheduled or started, an activity's result, a
 * timer fired) make the replayer run a new task as live work, not from the record: nothing in it can
 * diverge, but the code may ask for a local activity there, which a replayer cannot run and refuses
 * with an error of its own. Cut there, a prefix fares as the record up to that point does.
 */
async function firstDivergingEvent(bundle: ReplayBundle, history: History, workflowId: string): Promise<number | undefined> {
  const events = history.events ?? [];
  const firstTask = events.findIndex((e) => e.workflowTaskStartedEventAttributes);
  if (firstTask < 0) return undefined;
  const settled = settledLengths(events);
  let lo = firstTask; // a prefix of this length (up to the task's scheduling) replays cleanly
  let hi = events.length; // the full history fails
  while (lo + 1 < hi) {
    const mid = Math.floor((lo + hi) / 2);
    // (before the first task completes, the code has issued nothing the record could contradict)
    const outcome = settled[mid] === 0 ? { ok: true as const } : await replayOnce(bundle, settledPrefix(events, settled[mid]!), workflowId);
    if (outcome.ok || outcome.kind !== 'nondeterminism') lo = mid;
    else hi = mid;
  }
  return hi;
}

/** For each prefix length, the length of its settled part: up to its last completed task and that task's commands (0: none). */
function settledLengths(events: NonNullable<History['events']>): number[] {
  const lengths = [0];
  let settled = false;
  for (let i = 0; i < events.length; i++) {
    const e = events[i]! as Record<string, unknown>;
    settled = Boolean(e.workflowTaskCompletedEventAttributes) || (settled && COMMAND_EVENTS.some((k) => e[k]));
    lengths.push(settled ? i + 1 : lengths[i]!);
  }
  return lengths;
}

const settledPrefix = (events: NonNullable<History['events']>, length: number): History => ({ events: events.slice(0, length) });

export async function replayRun(bundle: ReplayBundle, workflowId: string, runId: string, history: History): Promise<RunVerdict> {
  const events = history.events ?? [];
  // A running deviation's record may end inside a task (a timer fired, its task not yet completed): that part holds nothing to compare.
  const settled = settledLengths(events)[events.length]!;
  const outcome = await replayOnce(bundle, settled > 0 && settled < events.length ? settledPrefix(events, settled) : history, workflowId);
  if (outcome.ok) return { runId, events: events.length, deterministic: true };
  const verdict: RunVerdict = {
    runId,
    events: events.length,
    deterministic: false,
    error: { kind: outcome.kind, message: outcome.message },
  };
  if (outcome.kind === 'nondeterminism') {
    const sdk = parseSdkMessage(outcome.message);
    const at = await firstDivergingEvent(bundle, history, workflowId);
    const event = at ? events[at - 1] : undefined;
    verdict.divergence = {
      eventId: event ? Number(event.eventId) : (sdk.eventId ?? 0),
      eventType: event ? eventTypeName(eventTypeOf(event)) : (sdk.eventType ?? 'unknown'),
      ...(sdk.eventId !== undefined ? { sdkEventId: sdk.eventId } : {}),
      ...(sdk.eventType ? { sdkEventType: sdk.eventType } : {}),
    };
  }
  return verdict;
}

function eventTypeOf(event: NonNullable<History['events']>[number]): unknown {
  const type = event.eventType as unknown;
  if (typeof type === 'number') {
    // The History objects from protojson carry enum numbers; name them from the proto enum.
    const { temporal } = require('@temporalio/proto') as typeof import('@temporalio/proto');
    return temporal.api.enums.v1.EventType[type] ?? type;
  }
  return type;
}

/** Replays every run of a workflow; deterministic only when every run is. */
export async function replayWorkflow(
  bundle: ReplayBundle,
  workflowId: string,
  runs: Array<{ runId: string; history: History }>,
): Promise<ReplayVerdict> {
  const verdicts: RunVerdict[] = [];
  for (const run of runs) verdicts.push(await replayRun(bundle, workflowId, run.runId, run.history));
  return { workflowId, deterministic: verdicts.every((v) => v.deterministic), codeSha256: bundle.sha256, runs: verdicts };
}
