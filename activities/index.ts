import type { Pool } from '../db/pool';
import { createReadModelActivities } from './read-model';
import type { AllActivities } from './types';

export interface ActivityDeps {
  pool: Pool;
}

/** Every activity the worker registers, built from real dependencies (tests pass their own database). */
export function createActivities(deps: ActivityDeps): AllActivities {
  return {
    ...createReadModelActivities(deps.pool),
  };
}
