import type { OpenDeviationRequest } from '../domain/deviation';
import type { ResolvedPolicy } from '../domain/policy';
import type { RiskAssessment, RootCauseAnalysis } from '../domain/rca';
import type { ReconciliationSummary } from '../domain/reconciliation-summary';
import type { ImpactAssessment } from '../domain/lifecycle';
import type { SignatureMeaning, TaskSignatureMeaning } from '../domain/signatures';
import type { Gate } from './deviation/gates';

export const STAGES = [
  'detection',
  'containment',
  'investigation',
  'capa',
  'change_control',
  'effectiveness_check',
  'closure',
  'closed',
  'cancelled',
] as const;
export type Stage = (typeof STAGES)[number];

/** The workflow's input: the request plus what the API fixed at start (number, time, policy). */
export interface DeviationInput extends Omit<OpenDeviationRequest, 'reportedBy'> {
  id: string;
  /** The QA lead who opened it (from the signed-in user), or the person a monitoring client named. */
  reportedBy: string;
  detectedAt: string;
  policy: ResolvedPolicy;
  /** Opened by a line monitor: the signal and its evidence (absent for a deviation a person opened). */
  detection?: MonitoringSignalRecord;
}

/**
 * An electronic signature (21 CFR 11.50, 11.70, 11.200): the API re-authenticated the signer
 * (ID and password) before it built this; the workflow checks roles and separation of duties.
 */
export interface Signature {
  signerId: string;
  login: string;
  printedName: string;
  roles: string[];
  meaning: SignatureMeaning;
  signedAt: string;
  /** SHA-256 of the canonical content of the record signed. */
  recordHash: string;
  comment?: string;
  /** Hash of the signature's row in the PostgreSQL ledger, once appended. */
  ledgerHash?: string;
}

// The gates are defined, with everything about each, in one table (deviation/gates.ts).
export { GATES, type Gate } from './deviation/gates';

/** A sign-off task: one gate of the lifecycle waiting for its electronic signature(s). */
export interface SignoffTask {
  id: string;
  gate: Gate;
  title: string;
  /** Any of these roles may sign. */
  roles: string[];
  meaning: TaskSignatureMeaning;
  signaturesRequired: number;
  createdAt: string;
  dueAt: string;
  status: 'open' | 'signed' | 'rejected' | 'cancelled';
  signatures: Signature[];
  rejection?: { signature: Signature; reason: string };
  round: number;
  /** For an extension approval: the deadline whose due date would move. */
  subject?: string;
}

/** Who did something, when; the shape an electronic signature extends. */
export interface Attribution {
  by: string;
  at: string;
  comment?: string;
  signature?: Signature;
}

export interface StageTransition {
  from: Stage | null;
  to: Stage;
  at: string;
  by: string;
  reason: string;
}

/** A due date the engine watches: overdue flags, reminders sent, escalation. */
export interface Deadline {
  key: string;
  label: string;
  dueAt: string;
  overdue: boolean;
  reminders: number;
  escalated: boolean;
  metAt?: string;
  /** Due dates move only through an extension approved by signature; old and new dates stay here. */
  extensions?: DueDateExtension[];
}

export interface DueDateExtension {
  from: string;
  to: string;
  justification: string;
  requestedBy: string;
  requestedAt: string;
  taskId: string;
  status: 'pending' | 'approved' | 'rejected';
  decision?: Attribution;
}

export interface HoldRecord {
  lot: string;
  holdId: string;
  placedAt: string;
  disposition?: 'release' | 'reject';
  disposedAt?: string;
  disposedBy?: string;
}

export interface TraceResult {
  shipments: number;
  ssccs: string[];
  serials: number;
  /** True when more SSCCs were flagged than listed here (the full list is in PostgreSQL). */
  truncated: boolean;
}

/**
 * A shipping or receiving event captured for a unit, case or pallet of a batch under one of this
 * deviation's holds (the capture is stored: the event happened). Recorded by capture in
 * hold_breaches, told to the workflow by a signal.
 */
export interface HoldBreach {
  /** `HB` and the breach's number in hold_breaches. */
  id: string;
  holdId: string;
  lot: string;
  bizStep: 'shipping' | 'receiving';
  /** The EPCIS eventID (or, when the sender gave none, its content hash). */
  eventId: string;
  eventTime: string;
  /** The event's identifiers that hold units of the lot, as captured: the first few. */
  identifiers: string[];
  identifierCount: number;
  /** The capture job (stored document) that brought the event: `C` and its number. */
  captureId: string;
  detectedAt: string;
}

/** What the hold-breach signal carries: breaches of this deviation's holds, oldest first. */
export interface HoldBreachNotice {
  breaches: HoldBreach[];
}

/**
 * What a line monitor (workflows/line-monitor.ts) found on one batch's point: a threshold crossed or
 * a chart rule violated, with its evidence (the reconciliation report, the chart and its points).
 * The large data stays in PostgreSQL: the report and the chart are named, never copied.
 */
export interface MonitoringSignalRecord {
  /** `<batch ID>:<signal>`: the same point judged again carries the same key (an alert's: its signal). */
  key: string;
  /** `threshold:<metric>` or `rule:<chart ID>:<rule>`; `emvs:<alert ID>` or `dscsa:<correlation UUID>`. */
  signal: string;
  kind: 'threshold' | 'rule' | 'emvs_alert' | 'dscsa_verification';
  /** What was found: the monitored metric, or an alert's cause (domain/emvs.ts). */
  metric: string;
  /** Null for an alert on a batch the company does not have, or without a line. */
  line: string | null;
  gtin: string;
  lot: string;
  batchId: string | null;
  /** The reconciliation report; null for an alert. */
  reportId: string | null;
  /** The batch's count of the metric, its units (commissioned), and count per unit (null without units); absent for an alert. */
  count?: number;
  units?: number;
  value?: number | null;
  threshold?: { maxCount?: number; maxRate?: number };
  rule?: {
    chartId: string;
    rule: string;
    ruleNumber: number;
    description: string;
    side: string;
    /** The batch's place in the chart's series. */
    point: number;
    /** Every point of the pattern, ending with this batch. */
    points: Array<{ index: number; batchId: string; lot: string }>;
  };
  /** An EMVS alert or a DSCSA verification, and what the company's own data said of the pack. */
  alert?: SerializationAlertRecord;
  /** One line, as people read it. */
  summary: string;
  detectedAt: string;
}

/** The alert (or negative verification) behind a monitoring signal of kind `emvs_alert` or `dscsa_verification`. */
export interface SerializationAlertRecord {
  framework: 'eu_fmd' | 'dscsa';
  /** The EMVS alert ID, or the verification's correlation UUID. */
  reference: string;
  /** EMVS: the alert code and NMVS return code; DSCSA: the failure reason and additional information. */
  code: string | null;
  detail: string | null;
  serial: string;
  expiry: string | null;
  /** EMVS: the market (ISO 3166-1 alpha-2); DSCSA: the requester's GLN. */
  origin: string | null;
  raisedAt: string;
  classification: 'mah_error' | 'suspected_falsification';
  cause: string;
  /** What the company's own data showed, one sentence each. */
  findings: string[];
  /** Deviations holding the batch when the alert arrived. */
  holds: string[];
}

export interface Recurrence {
  id: string;
  title: string;
  detectedAt: string;
  matchedOn: Array<'line' | 'product' | 'symptom'>;
}

export interface Containment {
  dueAt: string;
  actionsCompletedAt?: string;
  holds: HoldRecord[];
  trace?: TraceResult;
  responseRoles: Record<string, string>;
  preliminaryReconciliation: ReconciliationSummary[];
  remindersSent: number;
  escalatedAt?: string;
  slaBreachedAt?: string;
  confirmation?: Attribution & { late: boolean; minutesAfterDetection: number };
  /** Hold breaches, the first ones (the rest are in hold_breaches); absent until the first. */
  breaches?: HoldBreach[];
  /** True when more breaches were signalled than `breaches` lists. */
  breachesTruncated?: boolean;
}

export interface EvidenceItem {
  kind: string;
  ref: string;
  title: string;
  sha256?: string;
  addedBy: string;
  addedAt: string;
}

export interface CapaAction {
  id: string;
  type: 'correction' | 'corrective' | 'preventive';
  description: string;
  owner: string;
  dueAt: string;
  status: 'open' | 'completed' | 'cancelled';
  addedBy: string;
  addedAt: string;
  changeControl?: { kind: string; description: string; id?: string };
  completion?: Attribution & { evidence: string; evidenceRefs: string[] };
  cancellation?: Attribution & { justification: string };
}

export interface ChangeControlRef {
  id: string;
  actionId: string;
  kind: string;
  status: 'open' | 'closed';
  closedAt?: string;
  result?: ChangeControlRecord;
}

export interface EffectivenessResult {
  verdict: 'effective' | 'not_effective' | 'inconclusive';
  evaluatedAt: string;
  since: string;
  batchesEvaluated: number;
  duplicateSerials: number;
  aggregationErrorRate: number;
  reportIds: string[];
  reasons: string[];
}

export interface InvestigationRound {
  number: number;
  startedAt: string;
  reason: string;
  investigation: {
    dueAt: string;
    evidence: EvidenceItem[];
    contributions: Array<{ function: string; summary: string; by: string; at: string }>;
    analyses: Array<{ analysis: RootCauseAnalysis; by: string; at: string }>;
    risk?: { assessment: RiskAssessment; riskClass: 'low' | 'medium' | 'high'; by: string; at: string };
    report?: Attribution & { summary: string; rootCause: string };
    rejections: Array<Attribution & { reason: string }>;
    approval?: Attribution;
  };
  capa: {
    planDueAt?: string;
    actions: CapaAction[];
    planApproval?: Attribution;
    completedAt?: string;
  };
  changeControls: ChangeControlRef[];
  effectiveness: {
    scheduledFor?: string;
    /** True while the check could not be evaluated on data and waits for a QA decision. */
    decisionRequired?: boolean;
    checks: EffectivenessResult[];
    decision?: Attribution & { effective: boolean; rationale: string };
    verification?: Attribution;
  };
}

export interface RegulatoryNotificationStep {
  framework: 'dscsa' | 'eu_fmd';
  finding: 'illegitimate' | 'suspected_falsified';
  details: string;
  reportedBy: string;
  startedAt: string;
  dueAt: string;
  required: string[];
  notifications: Array<{
    recipient: string;
    reference: string;
    summary: string;
    notifiedAt: string;
    recordedBy: string;
    recordedAt: string;
  }>;
  completedAt?: string;
  late: boolean;
  escalatedAt?: string;
}

export interface Closure {
  approval?: Attribution;
}

export interface DeviationState {
  id: string;
  title: string;
  symptom: OpenDeviationRequest['symptom'];
  severity: OpenDeviationRequest['severity'];
  source: OpenDeviationRequest['source'];
  batches: string[];
  lines: string[];
  gtins: string[];
  description: string;
  reportedBy: string;
  detectedAt: string;
  policy: { name: string; version: string };
  stage: Stage;
  transitions: StageTransition[];
  recurrences: Recurrence[];
  containment: Containment;
  rounds: InvestigationRound[];
  regulatory: RegulatoryNotificationStep[];
  deadlines: Deadline[];
  tasks: SignoffTask[];
  slaBreaches: Array<{ clock: string; at: string }>;
  closure: Closure;
  cancellation?: Attribution & { justification: string; fromStage: Stage };
  /** The monitoring signal that opened it, with its evidence; absent when a person opened it. */
  detection?: MonitoringSignalRecord;
  /** Later monitoring signals on the same line and symptom, linked to it as recurrences (the first ones). */
  monitoringSignals?: MonitoringSignalRecord[];
  /** True when more signals were linked than `monitoringSignals` lists (all of them are in monitoring_signals). */
  monitoringSignalsTruncated?: boolean;
  /** Increases with every change; the read model keeps only the newest. */
  version: number;
}

/** A change control, run as a child workflow of its deviation. */
export interface ChangeControlInput {
  id: string;
  deviationId: string;
  actionId: string;
  kind: string;
  description: string;
  owner: string;
  openedAt: string;
  dueAt: string;
  reminderIntervalMs: number;
  /** Once the head of QA is told; absent from change controls started before it existed. */
  escalatedReminderIntervalMs?: number;
}

export interface ChangeControlRecord {
  id: string;
  deviationId: string;
  actionId: string;
  kind: string;
  description: string;
  owner: string;
  dueAt: string;
  status: 'impact_assessment' | 'approval' | 'implementation' | 'verification' | 'closed';
  impactAssessment?: ImpactAssessment & Attribution;
  approvals: Attribution[];
  implementation?: Attribution & { summary: string };
  verification?: Attribution;
  overdue: boolean;
  reminders: number;
}

/** What the read model stores for listing. */
export interface DeviationSnapshot {
  id: string;
  title: string;
  symptom: string;
  severity: string;
  stage: Stage;
  status: 'open' | 'closed' | 'cancelled';
  batches: string[];
  lines: string[];
  gtins: string[];
  reportedBy: string;
  /** How it was detected (manual, or by monitoring): the KPIs count automated detection from it. */
  source?: string;
  detectedAt: string;
  updatedAt: string;
  version: number;
  slaBreached: boolean;
  overdue: boolean;
  nextDueAt: string | null;
  summary: Record<string, unknown>;
  tasks: Array<
    Pick<SignoffTask, 'id' | 'gate' | 'title' | 'roles' | 'meaning' | 'dueAt' | 'status' | 'createdAt' | 'signaturesRequired'> & {
      overdue: boolean;
      signatures: number;
    }
  >;
}
