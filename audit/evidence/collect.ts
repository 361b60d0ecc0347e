import { defaultPayloadConverter } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import type { Pool } from '../../db/pool';
import { loadWorkflowRecord, type WorkflowRecord } from '../history';
import { streamAudit, type AuditRow } from '../trail';

/**
 * Everything an inspection package holds about one deviation, gathered from Temporal (or the
 * archive) and PostgreSQL. Kept as plain data so the PDF renders any shape the workflow state
 * grows into.
 */
export interface EvidenceData {
  deviationId: string;
  generatedAt: string;
  record: WorkflowRecord;
  /** The workflow's own state (its getState query), and how it was obtained. */
  state: Record<string, unknown> | null;
  stateSource: 'query' | 'result' | 'last_update' | 'input' | 'none';
  holds: Array<Record<string, unknown>>;
  notifications: Array<Record<string, unknown>>;
  signatures: Array<Record<string, unknown>> | null;
  reconciliationReports: Array<{ id: string; report: Record<string, unknown> }>;
  audit: AuditRow[];
  steps: RecordedStep[];
  /** Printed names of the people the record names by login (users table), for the report. */
  people?: Record<string, string>;
}

/** One line of the history as a person reads it: when, what, by whom. */
export interface RecordedStep {
  eventId: number;
  at: string;
  kind: string;
  name: string;
  by?: string;
}

type Event = NonNullable<WorkflowRecord['runs'][number]['history']['events']>[number];

const isoOf = (t: Event['eventTime']) =>
  t ? new Date(Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6)).toISOString() : '';

function decode(payload: unknown): unknown {
  try {
    return payload ? defaultPayloadConverter.fromPayload(payload as never) : undefined;
  } catch {
    return undefined;
  }
}

const asObject = (v: unknown): Record<string, unknown> | null =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;

/** The state from the history alone: the workflow's result, else the last Update's answer, else its input. */
export function stateFromHistory(record: WorkflowRecord): { state: Record<string, unknown> | null; source: EvidenceData['stateSource'] } {
  const events = record.runs.flatMap((r) => r.history.events ?? []);
  for (let i = events.length - 1; i >= 0; i--) {
    const done = events[i]!.workflowExecutionCompletedEventAttributes;
    if (done) {
      const s = asObject(decode(done.result?.payloads?.[0]));
      if (s) return { state: s, source: 'result' };
    }
  }
  for (let i = events.length - 1; i >= 0; i--) {
    const s = asObject(decode(events[i]!.workflowExecutionUpdateCompletedEventAttributes?.outcome?.success?.payloads?.[0]));
    if (s && 'id' in s) return { state: s, source: 'last_update' };
  }
  const input = asObject(decode(events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]));
  return input ? { state: input, source: 'input' } : { state: null, source: 'none' };
}

/** The history as a reviewer reads it: human steps (Updates, signals), activities, timers, children, the end. */
export function recordedSteps(record: WorkflowRecord): RecordedStep[] {
  const steps: RecordedStep[] = [];
  for (const run of record.runs) {
    for (const e of run.history.events ?? []) {
      const base = { eventId: Number(e.eventId), at: isoOf(e.eventTime) };
      const accepted = e.workflowExecutionUpdateAcceptedEventAttributes;
      if (accepted) {
        const input = asObject(decode(accepted.acceptedRequest?.input?.args?.payloads?.[0]));
        steps.push({
          ...base,
          kind: 'update',
          name: accepted.acceptedRequest?.input?.name ?? 'update',
          by: typeof input?.by === 'string' ? input.by : (accepted.acceptedRequest?.meta?.identity ?? undefined),
        });
      } else if (e.workflowExecutionSignaledEventAttributes) {
        steps.push({
          ...base,
          kind: 'signal',
          name: e.workflowExecutionSignaledEventAttributes.signalName ?? 'signal',
          by: e.workflowExecutionSignaledEventAttributes.identity ?? undefined,
        });
      } else if (e.activityTaskScheduledEventAttributes) {
        steps.push({ ...base, kind: 'activity', name: e.activityTaskScheduledEventAttributes.activityType?.name ?? 'activity' });
      } else if (e.timerStartedEventAttributes) {
        steps.push({ ...base, kind: 'timer', name: `timer ${e.timerStartedEventAttributes.timerId ?? ''}`.trim() });
      } else if (e.startChildWorkflowExecutionInitiatedEventAttributes) {
        steps.push({
          ...base,
          kind: 'child workflow',
          name: `${e.startChildWorkflowExecutionInitiatedEventAttributes.workflowType?.name ?? ''} ${e.startChildWorkflowExecutionInitiatedEventAttributes.workflowId ?? ''}`.trim(),
        });
      } else if (e.workflowExecutionStartedEventAttributes) {
        steps.push({
          ...base,
          kind: 'start',
          name: e.workflowExecutionStartedEventAttributes.workflowType?.name ?? 'workflow',
          by: e.workflowExecutionStartedEventAttributes.identity ?? undefined,
        });
      } else if (e.workflowExecutionTerminatedEventAttributes) {
        steps.push({
          ...base,
          kind: 'end',
          name: `terminated: ${e.workflowExecutionTerminatedEventAttributes.reason ?? ''}`,
          by: e.workflowExecutionTerminatedEventAttributes.identity ?? undefined,
        });
      } else if (e.workflowExecutionCompletedEventAttributes) {
        steps.push({ ...base, kind: 'end', name: 'completed' });
      } else if (e.workflowExecutionFailedEventAttributes) {
        steps.push({ ...base, kind: 'end', name: `failed: ${e.workflowExecutionFailedEventAttributes.failure?.message ?? ''}` });
      } else if (e.workflowExecutionContinuedAsNewEventAttributes) {
        steps.push({ ...base, kind: 'end', name: 'continued as new' });
      } else if (e.workflowExecutionCanceledEventAttributes) {
        steps.push({ ...base, kind: 'end', name: 'canceled' });
      }
    }
  }
  return steps;
}

async function tableExists(pool: Pool, name: string): Promise<boolean> {
  const { rows } = await pool.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [name]);
  return Boolean(rows[0]?.t);
}

/** Report IDs anywhere in the state (reportId / reportIds fields), however the state grows. */
export function reportIdsIn(value: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(value)) value.forEach((v) => reportIdsIn(v, found));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'reportId' && typeof v === 'string') found.add(v);
      else if (k === 'reportIds' && Array.isArray(v)) v.filter((x) => typeof x === 'string').forEach((x) => found.add(x));
      else reportIdsIn(v, found);
    }
  }
  return found;
}

async function queryState(client: Client, id: string): Promise<Record<string, unknown> | null> {
  try {
    const answer = await Promise.race([
      client.workflow.getHandle(id).query<unknown>('getState'),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('query timed out')), 5000).unref()),
    ]);
    return asObject(answer);
  } catch {
    return null;
  }
}

export async function collectEvidence(deps: { pool: Pool; temporal: Client }, deviationId: string): Promise<EvidenceData | undefined> {
  const record = await loadWorkflowRecord(deps, deviationId);
  if (!record) return undefined;
  let state: Record<string, unknown> | null = null;
  let stateSource: EvidenceData['stateSource'] = 'none';
  if (record.source === 'temporal') {
    state = await queryState(deps.temporal, deviationId);
    if (state) stateSource = 'query';
  }
  if (!state) ({ state, source: stateSource } = stateFromHistory(record));

  const { pool } = deps;
  const [holds, notifications] = await Promise.all([
    pool.query(
      'SELECT lot, reason, placed_at, placed_by, disposition, disposed_at, disposed_by, disposition_reason FROM holds WHERE deviation_id = $1 ORDER BY placed_at, lot',
      [deviationId],
    ),
    pool.query(
      'SELECT kind, recipients, subject, created_at, status, sent_at, attempts FROM notifications WHERE deviation_id = $1 ORDER BY created_at, id',
      [deviationId],
    ),
  ]);
  let signatures: Array<Record<string, unknown>> | null = null;
  if (await tableExists(pool, 'signature_ledger')) {
    const { rows } = await pool.query(
      'SELECT task_id, signer_login, printed_name, meaning, signed_at, record_hash, comment, hash FROM signature_ledger WHERE deviation_id = $1 ORDER BY id',
      [deviationId],
    );
    signatures = rows;
  }
  const reconciliationReports: EvidenceData['reconciliationReports'] = [];
  const ids = [...reportIdsIn(state)];
  if (ids.length && (await tableExists(pool, 'reconciliation_reports'))) {
    const { rows } = await pool.query<{ id: string; report: Record<string, unknown> }>(
      'SELECT r.id::text AS id, to_jsonb(r) AS report FROM reconciliation_reports r WHERE r.id::text = ANY($1::text[]) ORDER BY 1',
      [ids],
    );
    reconciliationReports.push(...rows);
  }
  const audit: AuditRow[] = [];
  for await (const row of streamAudit(pool, { deviation: deviationId })) audit.push(row);
  const people = await printedNames(pool, [
    ...loginsIn(state),
    ...holds.rows.flatMap((h) => [h.placed_by, h.disposed_by]),
    ...audit.map((a) => a.actor),
  ]);

  return {
    deviationId,
    generatedAt: new Date().toISOString(),
    record,
    state,
    stateSource,
    holds: holds.rows,
    notifications: notifications.rows,
    signatures,
    reconciliationReports,
    audit,
    steps: recordedSteps(record),
    people,
  };
}

/** Logins named in the state as actors (by, reportedBy, login fields). */
export function loginsIn(value: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(value)) value.forEach((v) => loginsIn(v, found));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (
        (k === 'by' || k === 'reportedBy' || k === 'login' || k === 'requestedBy' || k === 'disposedBy' || k === 'owner') &&
        typeof v === 'string'
      )
        found.add(v);
      else loginsIn(v, found);
    }
  }
  return found;
}

async function printedNames(pool: Pool, logins: unknown[]): Promise<Record<string, string>> {
  const wanted = [...new Set(logins.filter((l): l is string => typeof l === 'string' && l.length > 0))];
  if (!wanted.length || !(await tableExists(pool, 'users'))) return {};
  const { rows } = await pool.query<{ login: string; printed_name: string }>(
    'SELECT login, printed_name FROM users WHERE login = ANY($1::text[])',
    [wanted],
  );
  return Object.fromEntries(rows.map((r) => [r.login, r.printed_name]));
}
