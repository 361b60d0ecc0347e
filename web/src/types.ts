/** The API's answers, typed by the workflow's own types (imported, not copied). */
import type { DeviationSnapshot, DeviationState, SignoffTask, ChangeControlRecord } from '@workflows/types';
import type { MonitoredMetric } from '@domain/monitoring/metrics';
import type { SpcBaseline, SpcChartKind, SpcMeasure, SpcRuleId, SpcSide } from '@domain/spc';
export type { DeviationSnapshot, DeviationState, SignoffTask, ChangeControlRecord };

export type BoardItem = Omit<DeviationSnapshot, 'tasks' | 'version'>;
/** GET /deviations: one page of the board, and how many deviations match the filters in all. */
export interface DeviationList {
  items: BoardItem[];
  total: number;
  limit: number;
  offset: number;
}
export interface DeviationAnswer {
  id: string;
  stage: DeviationState['stage'];
  deviation: DeviationState;
}
export interface InboxTask {
  id: string;
  deviationId: string;
  gate: SignoffTask['gate'];
  title: string;
  roles: string[];
  meaning: SignoffTask['meaning'];
  signaturesRequired: number;
  signatures: number;
  status: SignoffTask['status'];
  overdue: boolean;
  createdAt: string;
  dueAt: string;
  deviationTitle: string;
  severity: string;
}

/** An EPCIS document captured for a batch (GET /batches/:lot/documents). */
export interface BatchDocument {
  captureId: string;
  capturedAt: string;
  capturedBy: string;
  sha256: string;
  bytes: number;
  events: number;
  newEvents: number;
  /** Its events that name the batch. */
  batchEvents: number;
  /** How many of those an error declaration has retracted since. */
  retracted: number;
  /** Its error declarations that retract events of the batch. */
  retractions: number;
}
export interface BatchDocuments {
  lot: string;
  gtin: string;
  items: BatchDocument[];
  total: number;
  limit: number;
  offset: number;
}

/**
 * A control chart as GET /spc/charts lists it and GET /spc/charts/:id details it
 * (monitoring/charts.ts), typed by the SPC domain's own types.
 */
export interface ChartSummary {
  id: string;
  line: string;
  /** Null: every product made on the line. */
  gtin: string | null;
  metric: MonitoredMetric;
  label: string;
  measure: SpcMeasure;
  kind: SpcChartKind | null;
  status: 'collecting' | 'ready' | 'approved';
  pointCount: number;
  lastPointAt: string | null;
}
export interface ChartViolation {
  rule: SpcRuleId;
  ruleNumber: number;
  description: string;
  side: SpcSide;
  index: number;
  batchId: string;
  lot: string;
  points: Array<{ index: number; batchId: string; lot: string }>;
  /** The deviation the line's monitor opened for it or linked it to; null when it raised none. */
  deviationId: string | null;
}
export interface ChartDetail extends ChartSummary {
  phase: 'I' | 'II';
  provisional: boolean;
  limitsFrom: SpcBaseline | null;
  limitsProblem: string | null;
  points: Array<{
    index: number;
    lot: string;
    value: number | null;
    centre: number | null;
    lcl: number | null;
    ucl: number | null;
    z: number | null;
  }>;
  violations: ChartViolation[];
}
