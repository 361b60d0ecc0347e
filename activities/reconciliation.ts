import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Pool } from '../db/pool';
import { AmbiguousBatchError, reconcileBatch } from '../reconciliation/reconcile';
import type { ReconciliationActivities } from '../workflows/activity-contracts';

/**
 * Reconciliation as an activity: the summary and the stored report's ID go back to the workflow,
 * never the rows. Each run stores a report of its own; a retry produces one with the same content
 * hash when the data has not changed. Heartbeats between SQL steps keep a million-unit batch alive
 * under a short heartbeat timeout.
 */
export function createReconciliationActivities(pool: Pool): ReconciliationActivities {
  return {
    async reconcileBatch(input) {
      let ctx: Context | null = null;
      try {
        ctx = Context.current();
      } catch {
        ctx = null; // called outside an activity (tests, scripts)
      }
      try {
        return await reconcileBatch(pool, input, { progress: (step) => ctx?.heartbeat({ step }) });
      } catch (err) {
        // Retrying cannot resolve a lot shared by two products; the caller must name the GTIN.
        if (err instanceof AmbiguousBatchError) throw ApplicationFailure.nonRetryable(err.message, 'AmbiguousBatch');
        throw err;
      }
    },
  };
}
