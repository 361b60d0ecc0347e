import type { AuthenticatedUser } from '../../auth/types';
import type { TaskSignatureMeaning } from '../../domain/signatures';
import { signedRecord, signerDutyProblem } from '../../workflows/deviation/gates';
import { cancellationRecord } from '../../workflows/deviation/state';
import * as msg from '../../workflows/messages';
import type { DeviationState, SignoffTask } from '../../workflows/types';
import type { ApiContext } from '../context';
import { forbidden } from '../auth';
import { conflict, notFound } from '../problem';
import { queryState } from './deviations';
import { buildSignature } from './signing';
import { executeStep } from './steps';

const TASK_ID = /^(DEV-\d{4}-\d{6,})\.(T\d{1,4})$/;

export async function findTask(ctx: ApiContext, ref: string): Promise<{ state: DeviationState; task: SignoffTask }> {
  const match = TASK_ID.exec(ref);
  if (!match) throw notFound(`No task ${ref}.`);
  const state = await queryState(ctx, match[1]!);
  const task = state.tasks.find((t) => t.id === match[2]) ?? null;
  if (!task) throw notFound(`No task ${ref}.`);
  return { state, task };
}

/** The API's own checks before re-authentication, so a refused signer never spends a password attempt. */
function precheck(user: AuthenticatedUser, state: DeviationState, task: SignoffTask, ref: string): void {
  if (task.status !== 'open') throw conflict(`Task ${ref} is already ${task.status}.`);
  const problem = signerDutyProblem(state, task, user);
  if (problem) throw forbidden(`${problem[0]!.toUpperCase()}${problem.slice(1)}.`);
}

export async function signTask(
  ctx: ApiContext,
  user: AuthenticatedUser,
  ref: string,
  body: { meaning: TaskSignatureMeaning; comment?: string; login: string; password: string },
  remoteAddress?: string,
) {
  const { state, task } = await findTask(ctx, ref);
  precheck(user, state, task, ref);
  if (body.meaning !== task.meaning) throw conflict(`Task ${ref} asks for the meaning "${task.meaning}".`);
  const signature = await buildSignature(
    ctx,
    user,
    body,
    task.meaning,
    signedRecord(state, task),
    { taskId: ref, deviationId: state.id },
    remoteAddress,
    body.comment,
  );
  return executeStep(ctx, state.id, msg.signTask, { by: user.login, roles: [...user.roles], taskId: task.id, signature });
}

export async function rejectTask(
  ctx: ApiContext,
  user: AuthenticatedUser,
  ref: string,
  body: { reason: string; login: string; password: string },
  remoteAddress?: string,
) {
  const { state, task } = await findTask(ctx, ref);
  precheck(user, state, task, ref);
  const signature = await buildSignature(
    ctx,
    user,
    body,
    'rejected',
    signedRecord(state, task),
    { taskId: ref, deviationId: state.id },
    remoteAddress,
    body.reason,
  );
  return executeStep(ctx, state.id, msg.rejectTask, {
    by: user.login,
    roles: [...user.roles],
    taskId: task.id,
    signature,
    reason: body.reason,
  });
}

export async function cancelDeviation(
  ctx: ApiContext,
  user: AuthenticatedUser,
  id: string,
  body: { justification: string; login: string; password: string },
  remoteAddress?: string,
) {
  const state = await queryState(ctx, id);
  if (state.stage === 'closure' || state.stage === 'closed' || state.stage === 'cancelled')
    throw conflict(`${id} is in ${state.stage}; it can no longer be cancelled.`);
  const signature = await buildSignature(
    ctx,
    user,
    body,
    'approved',
    cancellationRecord(state, body.justification),
    { deviationId: id },
    remoteAddress,
    body.justification,
  );
  return executeStep(ctx, id, msg.cancelDeviation, { by: user.login, justification: body.justification, signature });
}
