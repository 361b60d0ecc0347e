import type { OpenDeviationRequest } from '../domain/deviation';

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

/** The workflow's input: the request plus what the API fixed at start (number, time). */
export interface DeviationInput extends OpenDeviationRequest {
  id: string;
  detectedAt: string;
}

export interface StageTransition {
  from: Stage | null;
  to: Stage;
  at: string;
  by: string;
  reason: string;
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
  stage: Stage;
  transitions: StageTransition[];
  /** Increases with every change; the read model keeps only the newest. */
  version: number;
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
  reportedBy: string;
  detectedAt: string;
  updatedAt: string;
  version: number;
  slaBreached: boolean;
  nextDueAt: string | null;
  summary: Record<string, unknown>;
}
