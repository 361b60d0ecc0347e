import type { Pool } from '../db/pool';
import { createHoldActivities } from './holds';
import { createNotificationActivities } from './notifications';
import { createReadModelActivities } from './read-model';
import { createReconciliationActivities } from './reconciliation';
import { findRecurrences } from './recurrence';
import { createSignatureActivities } from './signatures';
import type { AllActivities } from './types';

export interface ActivityDeps {
  pool: Pool;
}

/** Activities that read serialization data (trace, reconciliation, effectiveness) join when the data plane lands. */
type Registered = Omit<AllActivities, 'traceShipments' | 'evaluateEffectiveness'>;

/** Every activity the worker registers, built from real dependencies (tests pass their own database). */
export function createActivities(deps: ActivityDeps): Registered {
  return {
    ...createReadModelActivities(deps.pool),
    ...createHoldActivities(deps.pool),
    ...createNotificationActivities(deps.pool),
    ...createReconciliationActivities(deps.pool),
    ...createSignatureActivities(deps.pool),
    findRecurrences: (input) => findRecurrences(deps.pool, input),
  };
}
