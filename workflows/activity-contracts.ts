import type { RunRef } from '../domain/archive-sweep';
import type { EffectivenessCriteria } from '../domain/policy';
import type { SignatureMeaning } from '../domain/signatures';
import type { ReconciliationSummary } from '../domain/reconciliation-summary';
import type { DeviationInput, DeviationSnapshot, EffectivenessResult, MonitoringSignalRecord, Recurrence, TraceResult } from './types';

/**
 * The activities' contracts: workflows import them as types only (workflow code must not import
 * I/O), and activities/ implements them.
 * Each family is implemented in its own file by a factory that receives its dependencies.
 * Every activity is idempotent: retried, it has the effect of one call.
 */
export interface ReadModelActivities {
  recordDeviationSnapshot(snapshot: DeviationSnapshot): Promise<void>;
}

export interface HoldActivities {
  placeHold(input: { deviationId: string; lot: string; reason: string; placedBy: string }): Promise<{ holdId: string; placedAt: string }>;
  /**
   * Containment's first writes in one transaction: a hold on every lot and the alert in the outbox,
   * their audit-trail rows appended together (one turn of the trail's lock, not one per row). A
   * retry finds the holds and the alert it wrote before and returns the same holds.
   */
  placeHoldsAndAlert(input: {
    deviationId: string;
    lots: string[];
    reason: string;
    placedBy: string;
    alert: OutboxNotification;
  }): Promise<Array<{ lot: string; holdId: string; placedAt: string }>>;
  disposeHold(input: {
    deviationId: string;
    lot: string;
    disposition: 'release' | 'reject';
    by: string;
    reason: string;
  }): Promise<{ holdId: string; disposedAt: string }>;
}

/** A notification for the outbox, written once per dedupe key. */
export interface OutboxNotification {
  dedupeKey: string;
  deviationId: string;
  kind: string;
  recipients: string[];
  subject: string;
  body?: Record<string, unknown>;
}

export interface NotificationActivities {
  notify(input: OutboxNotification): Promise<void>;
}

export interface InvestigationSupportActivities {
  findRecurrences(input: {
    deviationId: string;
    symptom: string;
    lines: string[];
    gtins: string[];
    lots: string[];
    since: string;
  }): Promise<Recurrence[]>;
  traceShipments(input: { deviationId: string; lots: string[] }): Promise<TraceResult>;
  evaluateEffectiveness(input: {
    deviationId: string;
    round: number;
    lines: string[];
    lots: string[];
    since: string;
    criteria: EffectivenessCriteria;
  }): Promise<EffectivenessResult>;
}

export interface ReconciliationActivities {
  reconcileBatch(input: { lot: string; gtin?: string; deviationId?: string }): Promise<ReconciliationSummary>;
}

export interface SignatureActivities {
  /** Appends to the hash-chained ledger; a retry finds the row it appended before. */
  recordSignature(entry: {
    taskId: string;
    deviationId: string;
    signerId: string;
    login: string;
    printedName: string;
    meaning: SignatureMeaning;
    signedAt: string;
    recordHash: string;
    comment: string | null;
  }): Promise<{ ledgerId: string; ledgerHash: string }>;
}

export type AllActivities = ReadModelActivities &
  SignatureActivities &
  HoldActivities &
  NotificationActivities &
  InvestigationSupportActivities &
  ReconciliationActivities;

/** Activities of the ArchiveClosedDeviations workflow (workflows/archive.ts). */
export interface ArchiveActivities {
  /** Without `listedAt` (sweeps begun before the watermark existed): every closed run. */
  findUnarchivedDeviationRuns(listedAt?: string): Promise<RunRef[]>;
  archiveDeviationRun(ref: RunRef): Promise<Array<{ workflowId: string; runId: string; sha256: string; inserted: boolean }>>;
  recordArchiveSweep(sweep: {
    listedAt: string;
    complete: boolean;
    failedCloseTimes: string[];
  }): Promise<{ archivedBefore: string | null }>;
}

/**
 * What a line monitor does about one signal: start the deviation bound to it in its claim, or tell
 * the deviation already open on the line for the same symptom.
 */
export type MonitoringAction =
  | { kind: 'open'; batchId: string; signal: string; deviationId: string; input: DeviationInput }
  | { kind: 'link'; batchId: string; signal: string; deviationId: string; record: MonitoringSignalRecord };

export interface PointEvaluation {
  /** The batch's lot; null when the batch has no point on this line (never reconciled, or another line). */
  lot: string | null;
  /** Every signal the point shows now (claimed now or before). */
  signals: string[];
  /** What is still to be done: signals claimed now, and claims whose action was never carried out. */
  actions: MonitoringAction[];
  /** When the point must be judged again: missing reports count only a grace period after completion. */
  recheckAt: string | null;
}

/** Activities of the LineMonitorWorkflow (workflows/line-monitor.ts). */
export interface MonitoringActivities {
  /**
   * Judges one batch's point at `at` (the monitor's clock): the policy's thresholds and the rules of
   * its approved charts. Each signal found is claimed, with its alert, once per batch and signal;
   * judging the point again claims nothing new.
   */
  evaluateBatchPoint(input: { line: string; batchId: string; at: string }): Promise<PointEvaluation>;
  /** The action was carried out: judging the point again leaves the signal alone. */
  markSignalDelivered(input: { batchId: string; signal: string }): Promise<void>;
  /** The deviation a link was meant for no longer runs: the signal opens a deviation of its own (null: done before). */
  openInsteadOfLink(input: { batchId: string; signal: string; unreachable: string; at: string }): Promise<MonitoringAction | null>;
}
