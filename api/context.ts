import type { Client } from '@temporalio/client';
import type { Pool } from '../db/pool';
import type { AppConfig } from '../lib/config';
import type { Logger } from '../lib/logger';
import type { Policy } from '../domain/policy';

/** What every route needs, handed to the app at construction (tests build their own). */
export interface ApiContext {
  config: AppConfig;
  pool: Pool;
  temporal: Client;
  log: Logger;
  /** The policy new deviations start under (each copies its resolved form at start); production when absent. */
  policy?: Policy;
}
