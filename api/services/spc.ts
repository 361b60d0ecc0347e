import { z } from 'zod';
import type { AuthenticatedUser } from '../../auth/types';
import { PRODUCTION_POLICY } from '../../domain/policy';
import { spcRulesSchema } from '../../domain/spc';
import { freeText } from '../../domain/text';
import {
  ChartChangeRefused,
  approveBaseline,
  baselineApprovalRecord,
  changeRules,
  rulesChangeRecord,
  type BaselineWindow,
} from '../../monitoring/chart-changes';
import type { ApiContext } from '../context';
import { HttpProblem, badRequest, conflict, notFound } from '../problem';
import { buildSignature, signChangeControlBodySchema } from './signing';

/**
 * The signed changes of a control chart (monitoring/chart-changes.ts) as the API takes them: the
 * record is built and checked first, so a refused change never spends a password attempt; then the
 * signer re-authenticates exactly as at a sign-off task (buildSignature), and the change commits
 * with its ledger row, its change row and its audit rows.
 */

/** A batch as charts name it: batch_metrics.batch_id. */
const batchIdSchema = z.string().regex(/^[1-9][0-9]{0,17}$/, 'a batch ID, as the chart lists its points');

/** Both signed changes carry the meaning of the signature: the signer approves the change. */
const approvalMeaning = z.literal('approved');

export const approveBaselineBodySchema = signChangeControlBodySchema
  .extend({
    meaning: approvalMeaning,
    /** The baseline's batches one by one (a phase I point with an assignable cause may be left out). */
    batches: z
      .array(batchIdSchema)
      .min(2)
      .max(500)
      .refine((b) => new Set(b).size === b.length, 'each batch once')
      .optional(),
    /** Or a window of the series, from one batch to another, inclusive. */
    window: z.object({ from: batchIdSchema, to: batchIdSchema }).strict().optional(),
  })
  .strict()
  .refine((b) => !(b.batches && b.window), { message: 'name the batches or a window, not both', path: ['window'] });

export const changeRulesBodySchema = signChangeControlBodySchema
  .omit({ comment: true })
  .extend({
    meaning: approvalMeaning,
    /** The chart's whole new rule set; a rule left out takes its Western Electric default. */
    rules: spcRulesSchema,
    /** Why the rules change: part of the record signed. */
    reason: freeText(2000),
  })
  .strict();

const monitoringPolicy = (ctx: ApiContext) => (ctx.policy ?? PRODUCTION_POLICY).monitoring;

function asProblem(err: unknown): unknown {
  if (!(err instanceof ChartChangeRefused)) return err;
  if (err.refusal === 'not_found') return notFound(err.message);
  if (err.refusal === 'invalid') return badRequest(err.message);
  return conflict(err.message, err.extra);
}

async function refusedAsProblem<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw asProblem(err);
  }
}

/** Signing is for people, and the API's checks come before the password is asked for. */
function personOnly(user: AuthenticatedUser): void {
  if (user.kind !== 'user') throw new HttpProblem(403, 'Forbidden', 'Only a person can sign.');
}

export async function signBaselineApproval(
  ctx: ApiContext,
  user: AuthenticatedUser,
  chartId: string,
  body: z.infer<typeof approveBaselineBodySchema>,
  remoteAddress?: string,
) {
  personOnly(user);
  const policy = monitoringPolicy(ctx);
  const window: BaselineWindow = body.batches ? { batches: body.batches } : body.window ? body.window : {};
  const { record } = await refusedAsProblem(() => baselineApprovalRecord(ctx.pool, chartId, window, policy));
  const signature = await buildSignature(
    ctx,
    user,
    body,
    body.meaning,
    record,
    { taskId: `${chartId}.baseline` },
    remoteAddress,
    body.comment,
  );
  return refusedAsProblem(() => approveBaseline(ctx.pool, chartId, window, policy, signature));
}

export async function signRulesChange(
  ctx: ApiContext,
  user: AuthenticatedUser,
  chartId: string,
  body: z.infer<typeof changeRulesBodySchema>,
  remoteAddress?: string,
) {
  personOnly(user);
  const { record } = await refusedAsProblem(() => rulesChangeRecord(ctx.pool, chartId, body.rules, body.reason));
  const signature = await buildSignature(ctx, user, body, body.meaning, record, { taskId: `${chartId}.rules` }, remoteAddress, body.reason);
  return refusedAsProblem(() => changeRules(ctx.pool, chartId, body.rules, body.reason, signature));
}
