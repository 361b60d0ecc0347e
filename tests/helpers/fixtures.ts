import { randomUUID } from 'node:crypto';
import type { OpenDeviationRequest } from '../../domain/deviation';

/** A valid request to open a deviation, with unique batches so tests never see each other's data. */
export function newDeviationRequest(overrides: Partial<OpenDeviationRequest> = {}): Record<string, unknown> {
  const tag = randomUUID().slice(0, 8).toUpperCase();
  return {
    title: 'Duplicate serial numbers found in aggregation report',
    symptom: 'duplicate_serials',
    severity: 'major',
    batches: [`L${tag}`],
    description: 'Line 3 reported 14 SGTINs commissioned twice during the night shift.',
    reportedBy: 'qa.lead@example.com',
    ...overrides,
  };
}
