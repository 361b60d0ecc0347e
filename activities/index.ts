import type { Pool } from '../db/pool';
import { createHoldActivities } from './holds';
import { createNotificationActivities } from './notifications';
import { createReadModelActivities } from './read-model';
import { createReconciliationActivities } from './reconciliation';
import { createInvestigationSupportActivities } from './investigation-support';
import { createSignatureActivities } from './signatures';
import type { AllActivities } from '../workflows/activity-contracts';

export interface ActivityDeps {
  pool: Pool;
}

/** Every activity the worker registers, built from real dependencies (tests pass their own database). */
export function createActivities(deps: ActivityDeps): AllActivities {
  const reconciliation = createReconciliationActivities(deps.pool);
  return {
    ...createReadModelActivities(deps.pool),
    ...createHoldActivities(deps.pool),
    ...createNotificationActivities(deps.pool),
    ...reconciliation,
    ...createSignatureActivities(deps.pool),
    ...createInvestigationSupportActivities(deps.pool, reconciliation.reconcileBatch),
  };
}
