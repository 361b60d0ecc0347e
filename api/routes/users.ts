import { Router, type Request } from 'express';
import { unlockSigning } from '../../auth/reauth';
import { signInPolicy } from '../../auth/sign-in-throttle';
import { createUserWithAudit, getUser, LastAdminError, listUsers, LoginTakenError, PasswordPolicyError, setPassword, updateUser } from '../../auth/users';
import { changePasswordSchema, createUserSchema, updateUserSchema, USER_ID_PATTERN } from '../../domain/users';
import { authenticate, currentUser, forbidden, requireRole, tooManyAttempts, type AuthenticatedUser } from '../auth';
import type { ApiContext } from '../context';
import { badRequest, conflict, notFound } from '../problem';
import { parseOr400 } from '../validate';

function userId(raw: string): string {
  if (!USER_ID_PATTERN.test(raw)) throw notFound(`No user ${raw}.`);
  return raw.toLowerCase();
}

/** The module's refusals, as problems. */
function asProblem(err: unknown, field = 'password'): unknown {
  if (err instanceof LoginTakenError) return conflict(err.message);
  if (err instanceof LastAdminError) return conflict(err.message);
  if (err instanceof PasswordPolicyError) {
    return badRequest('The password does not meet the policy.', err.problems.map((message) => ({ path: field, message })));
  }
  return err;
}

/** A session whose password must change may still change it: its own, nobody else's. */
const changingOwnPassword = (req: Request, user: AuthenticatedUser) => String(req.params.id ?? '').toLowerCase() === user.id;

/** User administration (admin); auditors read. */
export function userRoutes(ctx: ApiContext): Router {
  const router = Router();
  const auth = authenticate(ctx);
  const authForPasswordChange = authenticate(ctx, { allowWhilePasswordMustChange: changingOwnPassword });
  const policy = signInPolicy(ctx.config);

  router.post('/users', auth, requireRole('admin'), async (req, res) => {
    const body = parseOr400(createUserSchema, req.body);
    const by = currentUser(req).login;
    const user = await createUserWithAudit(ctx.pool, body, by).catch((err) => Promise.reject(asProblem(err)));
    ctx.log.info({ userId: user.id, login: user.login, roles: user.roles, by }, 'user created');
    res.status(201).location(`/users/${user.id}`).json(user);
  });

  router.get('/users', auth, requireRole('admin', 'auditor'), async (_req, res) => {
    res.json({ items: await listUsers(ctx.pool) });
  });

  router.get('/users/:id', auth, requireRole('admin', 'auditor'), async (req, res) => {
    const user = await getUser(ctx.pool, userId(String(req.params.id)));
    if (!user) throw notFound(`No user ${String(req.params.id)}.`);
    res.json(user);
  });

  router.patch('/users/:id', auth, requireRole('admin'), async (req, res) => {
    const id = userId(String(req.params.id));
    const patch = parseOr400(updateUserSchema, req.body);
    const by = currentUser(req).login;
    const user = await updateUser(ctx.pool, id, patch, by).catch((err) => Promise.reject(asProblem(err)));
    if (!user) throw notFound(`No user ${id}.`);
    ctx.log.info({ userId: id, changed: Object.keys(patch), by }, 'user changed');
    res.json(user);
  });

  /** People change their own password (giving the current one); an administrator resets anybody else's. */
  router.post('/users/:id/password', authForPasswordChange, async (req, res) => {
    const id = userId(String(req.params.id));
    const caller = currentUser(req);
    const body = parseOr400(changePasswordSchema, req.body);
    const self = caller.kind === 'user' && caller.id === id;
    if (!self && !(caller.kind === 'user' && caller.roles.includes('admin'))) {
      throw forbidden('Only the user or an administrator sets a password.');
    }
    if (self && body.currentPassword === undefined) {
      throw badRequest('The request body is invalid.', [{ path: 'currentPassword', message: 'your current password is required' }]);
    }
    const how = self
      ? { kind: 'self' as const, currentPassword: body.currentPassword ?? '', keepSessionId: req.sessionId, remoteAddress: req.ip }
      : { kind: 'admin_reset' as const };
    const result = await setPassword(ctx.pool, id, body.newPassword, how, caller.login, policy).catch((err) => Promise.reject(asProblem(err, 'newPassword')));
    if (result.status === 'no_such_user') throw notFound(`No user ${id}.`);
    // Guessing the current password here counts against the login as at sign-in, and locks it the same way.
    if (result.status === 'throttled') throw tooManyAttempts(res, result.retryAfterSeconds);
    // 403, not 401: the session is fine, the proof of knowing the current password is not.
    if (result.status === 'wrong_current_password') throw forbidden('The current password is not correct.');
    ctx.log.info({ userId: id, reset: !self, by: caller.login }, 'password set');
    res.status(204).end();
  });

  router.post('/users/:id/unlock-signing', auth, requireRole('admin'), async (req, res) => {
    const id = userId(String(req.params.id));
    const by = currentUser(req).login;
    if (!(await unlockSigning(ctx.pool, id, by))) throw notFound(`No user ${id}.`);
    ctx.log.info({ userId: id, by }, 'signing unlocked');
    res.status(204).end();
  });

  return router;
}
