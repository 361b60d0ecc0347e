import { Router } from 'express';
import { unlockSigning } from '../../auth/reauth';
import { createUser, getUser, LastAdminError, listUsers, LoginTakenError, PasswordPolicyError, setPassword, updateUser } from '../../auth/users';
import { changePasswordSchema, createUserSchema, updateUserSchema, USER_ID_PATTERN } from '../../domain/users';
import { authenticate, currentUser, forbidden, requireRole } from '../auth';
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

/** User administration (admin); auditors read. */
export function userRoutes(ctx: ApiContext): Router {
  const router = Router();
  const auth = authenticate(ctx);

  router.post('/users', auth, requireRole('admin'), async (req, res) => {
    const body = parseOr400(createUserSchema, req.body);
    const user = await createUser(ctx.pool, body).catch((err) => Promise.reject(asProblem(err)));
    ctx.log.info({ userId: user.id, login: user.login, roles: user.roles, by: currentUser(req).login }, 'user created');
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
    const user = await updateUser(ctx.pool, id, patch).catch((err) => Promise.reject(asProblem(err)));
    if (!user) throw notFound(`No user ${id}.`);
    ctx.log.info({ userId: id, changed: Object.keys(patch), by: currentUser(req).login }, 'user changed');
    res.json(user);
  });

  /** People change their own password (giving the current one); an administrator resets anybody else's. */
  router.post('/users/:id/password', auth, async (req, res) => {
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
    const result = await setPassword(
      ctx.pool,
      id,
      body.newPassword,
      self ? { kind: 'self', currentPassword: body.currentPassword!, keepSessionId: req.sessionId, remoteAddress: req.ip } : { kind: 'admin_reset' },
    ).catch((err) => Promise.reject(asProblem(err, 'newPassword')));
    if (result === null) throw notFound(`No user ${id}.`);
    // 403, not 401: the session is fine, the proof of knowing the current password is not.
    if (result === 'wrong_current_password') throw forbidden('The current password is not correct.');
    ctx.log.info({ userId: id, reset: !self, by: caller.login }, 'password set');
    res.status(204).end();
  });

  router.post('/users/:id/unlock-signing', auth, requireRole('admin'), async (req, res) => {
    const id = userId(String(req.params.id));
    if (!(await unlockSigning(ctx.pool, id))) throw notFound(`No user ${id}.`);
    ctx.log.info({ userId: id, by: currentUser(req).login }, 'signing unlocked');
    res.status(204).end();
  });

  return router;
}
