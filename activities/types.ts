import type { DeviationSnapshot } from '../workflows/types';

/**
 * Activity signatures, imported by workflows as types only (workflow code must not import I/O).
 * Each family is implemented in its own file by a factory that receives its dependencies.
 */
export interface ReadModelActivities {
  recordDeviationSnapshot(snapshot: DeviationSnapshot): Promise<void>;
}

export type AllActivities = ReadModelActivities;
