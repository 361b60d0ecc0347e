import type { Pool } from '../db/pool';
import type { Policy } from '../domain/policy';
import { loadPolicy } from '../lib/policy';
import { createHoldActivities } from './holds';
import { createMonitoringActivities } from './monitoring';
import { createNotificationActivities } from './notifications';
import { createReadModelActivities } from './read-model';
import { createReconciliationActivities } from './reconciliation';
import { createInvestigationSupportActivities } from './investigation-support';
import { createSignatureActivities } from './signatures';
import type { AllActivities, MonitoringActivities } from '../workflows/activity-contracts';

export interface ActivityDeps {
  pool: Pool;
  /**
   * The policy the line monitors judge points by and open deviations under; by default the one the
   * API runs with too (POLICY_FILE, else the production policy).
   */
  policy?: Policy;
}

/** Every activity the worker registers, built from real dependencies (tests pass their own database). */
export function createActivities(deps: ActivityDeps): AllActivities & MonitoringActivities {
  const reconciliation = createReconciliationActivities(deps.pool);
  return {
    ...createReadModelActivities(deps.pool),
    ...createHoldActivities(deps.pool),
    ...createNotificationActivities(deps.pool),
    ...reconciliation,
    ...createSignatureActivities(deps.pool),
    ...createInvestigationSupportActivities(deps.pool, reconciliation.reconcileBatch),
    ...createMonitoringActivities(deps.pool, deps.policy ?? loadPolicy(process.env.POLICY_FILE)),
  };
}
