import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { formatDeviationId } from '../../domain/deviation';
import type { Pool } from '../../db/pool';

/** The last deviation number the API handed out (0 before the first). */
export async function lastDeviationNumber(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ last_value: string; is_called: boolean }>('SELECT last_value, is_called FROM deviation_number_seq');
  return rows[0]!.is_called ? Number(rows[0]!.last_value) : 0;
}

export interface StartedWith {
  title: string;
  batches: string[];
}

/**
 * What every deviation whose number was issued after `before` was started with. Test files share
 * the database and open deviations at the same time, so a refused request is judged by whether a
 * workflow with *its* content started, not by whether the sequence moved.
 */
export async function deviationsStartedSince(stack: { pool: Pool; temporal: Client }, before: number): Promise<StartedWith[]> {
  const after = await lastDeviationNumber(stack.pool);
  const started: StartedWith[] = [];
  for (let n = before + 1; n <= after; n++) {
    const id = formatDeviationId(new Date().getUTCFullYear(), n);
    const history = await stack.temporal.workflow
      .getHandle(id)
      .fetchHistory()
      .catch(() => undefined);
    const input = history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    if (input) started.push(defaultPayloadConverter.fromPayload<StartedWith>(input));
  }
  return started;
}
