import type { Pool } from '../db/pool';
import { evaluateEffectiveness } from './effectiveness';
import { findRecurrences } from './recurrence';
import { traceShipments } from './trace';
import type { InvestigationSupportActivities, ReconciliationActivities } from '../workflows/activity-contracts';

export function createInvestigationSupportActivities(
  pool: Pool,
  reconcile: ReconciliationActivities['reconcileBatch'],
): InvestigationSupportActivities {
  return {
    findRecurrences: (input) => findRecurrences(pool, input),
    traceShipments: ({ deviationId, lots }) => traceShipments(pool, deviationId, lots),
    evaluateEffectiveness: (input) => evaluateEffectiveness(pool, reconcile, input),
  };
}
