import { WorkflowNotFoundError, WorkflowUpdateFailedError, isGrpcServiceError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { UpdateDefinition } from '@temporalio/common';
import { getChangeControlQuery, REFUSAL } from '../../workflows/messages';
import type { ChangeControlRecord } from '../../workflows/types';
import type { ApiContext } from '../context';
import { HttpProblem, badRequest, conflict, notFound } from '../problem';
import { deviationStarts } from './deviation-starts';

const STATUS_BY_REFUSAL: Record<string, { status: number; title: string }> = {
  [REFUSAL.stage]: { status: 409, title: 'Conflict' },
  [REFUSAL.rule]: { status: 409, title: 'Conflict' },
  [REFUSAL.invalid]: { status: 400, title: 'Bad Request' },
  [REFUSAL.notFound]: { status: 404, title: 'Not Found' },
  [REFUSAL.duties]: { status: 403, title: 'Forbidden' },
};

/**
 * Sends one lifecycle step to a workflow as an Update and maps a refusal to its HTTP answer.
 * A refusal comes from the Update's validator, so the workflow's history is unchanged.
 */
export async function executeStep<Ret, Arg>(
  ctx: ApiContext,
  workflowId: string,
  update: UpdateDefinition<Ret, [Arg]>,
  arg: Arg,
): Promise<Ret> {
  const handle: WorkflowHandle = ctx.temporal.workflow.getHandle(workflowId);
  try {
    return await handle.executeUpdate(update, { args: [arg] });
  } catch (err) {
    // A deviation opened a moment ago may not have its workflow yet: it is started, and asked again.
    if (err instanceof WorkflowNotFoundError && (await deviationStarts(ctx).ensureStarted(workflowId)))
      return executeStep(ctx, workflowId, update, arg);
    if (err instanceof WorkflowNotFoundError && (await isClosed(handle))) throw conflict(`${workflowId} is closed; nothing can change it.`);
    throw toProblem(err, workflowId);
  }
}

/**
 * An Update to a workflow that closed (or closed while the Update waited) fails as "not found",
 * with wording that varies with the moment; whether the record exists and is closed decides.
 */
async function isClosed(handle: WorkflowHandle): Promise<boolean> {
  try {
    return (await handle.describe()).status.name !== 'RUNNING';
  } catch {
    return false;
  }
}

function toProblem(err: unknown, workflowId: string): unknown {
  // A closed workflow answers "not found" too: for the caller that is a conflict, not a missing record.
  if (err instanceof WorkflowNotFoundError && /already completed/i.test(err.message))
    return conflict(`${workflowId} is closed; nothing can change it.`);
  if (err instanceof WorkflowNotFoundError) return notFound(`No open record ${workflowId}.`);
  if (err instanceof WorkflowUpdateFailedError) {
    const cause = err.cause;
    if (cause instanceof ApplicationFailure && cause.type && STATUS_BY_REFUSAL[cause.type]) {
      const { status, title } = STATUS_BY_REFUSAL[cause.type]!;
      if (status === 400) return badRequest(cause.message);
      return new HttpProblem(status, title, cause.message, { refusal: cause.type });
    }
    return conflict(cause?.message ?? err.message);
  }
  // An Update to a closed workflow is refused by the server itself.
  if (isGrpcServiceError(err) && /already completed|workflow execution already/i.test(err.details ?? err.message)) {
    return conflict(`${workflowId} is closed; nothing can change it.`);
  }
  if (err instanceof Error && /already completed/i.test(err.message)) {
    return conflict(`${workflowId} is closed; nothing can change it.`);
  }
  return err;
}

/** A change control's record, from its workflow (`<deviation>-CC<n>`); 404 when there is none. */
export async function changeControlRecord(ctx: ApiContext, workflowId: string): Promise<ChangeControlRecord> {
  try {
    return await ctx.temporal.workflow.getHandle(workflowId).query(getChangeControlQuery);
  } catch {
    throw notFound(`No change control ${workflowId}.`);
  }
}
