/** The API's answers, typed by the workflow's own types (imported, not copied). */
import type { DeviationSnapshot, DeviationState, SignoffTask, ChangeControlRecord } from '@workflows/types';
export type { DeviationSnapshot, DeviationState, SignoffTask, ChangeControlRecord };

export type BoardItem = Omit<DeviationSnapshot, 'tasks' | 'version'>;
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
