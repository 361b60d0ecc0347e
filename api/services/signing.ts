import { z } from 'zod';
import { TASK_SIGNATURE_MEANINGS } from '../../domain/signatures';
import { freeText, lineText, safeString } from '../../domain/text';
import type { AuthenticatedUser } from '../../auth/types';
import { canonicalRecordHash, reauthenticate } from '../../signatures';
import type { Signature } from '../../workflows/types';
import type { ApiContext } from '../context';
import { HttpProblem } from '../problem';

/** Re-authentication at every signature (11.200): the password again, never stored or logged. */
export const passwordSchema = safeString({ multiline: true }).min(1).max(1000);

/** Both components of 11.200(a)(1) at every signing: the user ID and the password. */
const credentials = { login: lineText(64), password: passwordSchema };

export const signBodySchema = z
  .object({ meaning: z.enum(TASK_SIGNATURE_MEANINGS), comment: freeText(2000).optional(), ...credentials })
  .strict();
export const rejectBodySchema = z.object({ reason: freeText(5000), ...credentials }).strict();
export const signChangeControlBodySchema = z.object({ comment: freeText(2000).optional(), ...credentials }).strict();
export const cancelBodySchema = z.object({ justification: freeText(5000), ...credentials }).strict();

/**
 * Checks the signer's password again and builds the signature manifestation (printed name, UTC
 * time, meaning) bound to the SHA-256 of the record's canonical content. A wrong password is a 401
 * that does not say which part was wrong; a locked signer is a 423.
 */
export async function buildSignature(
  ctx: ApiContext,
  user: AuthenticatedUser,
  credentials: { login: string; password: string },
  meaning: Signature['meaning'],
  record: unknown,
  context: { taskId?: string; deviationId?: string },
  remoteAddress?: string,
  comment?: string,
): Promise<Signature> {
  if (user.kind !== 'user') throw new HttpProblem(403, 'Forbidden', 'Only a person can sign.');
  const result = await reauthenticate(ctx.pool, user.id, credentials.password, {
    login: credentials.login,
    remoteAddress,
    context,
    maxFailures: ctx.config.SIGNING_MAX_FAILURES,
    lockMinutes: ctx.config.SIGNING_LOCK_MINUTES,
  });
  if (result.status === 'wrong')
    throw new HttpProblem(401, 'Unauthorized', 'The signature could not be verified: re-enter your credentials.');
  if (result.status === 'locked') {
    throw new HttpProblem(423, 'Locked', 'Signing is locked for this account after repeated failures; contact QA or an administrator.', {
      lockedUntil: result.lockedUntil.toISOString(),
    });
  }
  return {
    signerId: result.user.id,
    login: result.user.login,
    printedName: result.user.printedName,
    roles: result.user.roles,
    meaning,
    signedAt: new Date().toISOString(),
    recordHash: canonicalRecordHash(record),
    ...(comment ? { comment } : {}),
  };
}
