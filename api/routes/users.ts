import type { Request, Router } from 'express';
import { unlockSigning } from '../../auth/reauth';
import { signInPolicy } from '../../auth/sign-in-throttle';
import {
  createUserWithAudit,
  getUser,
  LastAdminError,
  listUsers,
  LoginTakenError,
  PasswordPolicyError,
  setPassword,
  updateUser,
} from '../../auth/users';
import { changePasswordSchema, createUserSchema, updateUserSchema, USER_ID_PATTERN } from '../../domain/users';
import { currentUser, forbidden, tooManyAttempts, type AuthenticatedUser } from '../auth';
import type { ApiContext } from '../context';
import { badRequest, conflict, notFound } from '../problem';
import { bodyOf, declaredRoutes, type RouteSpec } from '../route';

function userId(raw: string): string {
  if (!USER_ID_PATTERN.test(raw)) throw notFound(`No user ${raw}.`);
  return raw.toLowerCase();
}

/** The module's refusals, as problems. */
function asProblem(err: unknown, field = 'password'): unknown {
  if (err instanceof LoginTakenError) return conflict(err.message);
  if (err instanceof LastAdminError) return conflict(err.message);
  if (err instanceof PasswordPolicyError) {
    return badRequest(
      'The password does not meet the policy.',
      err.problems.map((message) => ({ path: field, message })),
    );
  }
  return err;
}

/** A session whose password must change may still change it: its own, nobody else's. */
const changingOwnPassword = (req: Request, user: AuthenticatedUser) => String(req.params.id ?? '').toLowerCase() === user.id;

export const USER_ROUTES = {
  create: { method: 'post', path: '/users', summary: 'Create a user', roles: ['admin'], body: createUserSchema },
  list: { method: 'get', path: '/users', summary: 'List users', roles: ['admin', 'auditor'] },
  get: { method: 'get', path: '/users/:id', summary: 'One user', roles: ['admin', 'auditor'] },
  update: { method: 'patch', path: '/users/:id', summary: 'Change roles, printed name, active', roles: ['admin'], body: updateUserSchema },
  /** People change their own password (giving the current one); an administrator resets anybody else's. */
  setPassword: {
    method: 'post',
    path: '/users/:id/password',
    summary: 'Change or reset a password',
    body: changePasswordSchema,
    allowWhilePasswordMustChange: changingOwnPassword,
  },
  unlockSigning: { method: 'post', path: '/users/:id/unlock-signing', summary: 'Lift a signing lock', roles: ['admin'] },
} satisfies Record<string, RouteSpec>;

/** User administration (admin); auditors read. */
export function userRoutes(ctx: ApiContext): Router {
  const routes = declaredRoutes(ctx);
  const policy = signInPolicy(ctx.config);

  routes.add(USER_ROUTES.create, async (req, res) => {
    const body = bodyOf(USER_ROUTES.create, req.body);
    const by = currentUser(req).login;
    const user = await createUserWithAudit(ctx.pool, body, by).catch((err) => Promise.reject(asProblem(err)));
    ctx.log.info({ userId: user.id, login: user.login, roles: user.roles, by }, 'user created');
    res.status(201).location(`/users/${user.id}`).json(user);
  });

  routes.add(USER_ROUTES.list, async (_req, res) => {
    res.json({ items: await listUsers(ctx.pool) });
  });

  routes.add(USER_ROUTES.get, async (req, res) => {
    const user = await getUser(ctx.pool, userId(String(req.params.id)));
    if (!user) throw notFound(`No user ${String(req.params.id)}.`);
    res.json(user);
  });

  routes.add(USER_ROUTES.update, async (req, res) => {
    const id = userId(String(req.params.id));
    const patch = bodyOf(USER_ROUTES.update, req.body);
    const by = currentUser(req).login;
    const user = await updateUser(ctx.pool, id, patch, by).catch((err) => Promise.reject(asProblem(err)));
    if (!user) throw notFound(`No user ${id}.`);
    ctx.log.info({ userId: id, changed: Object.keys(patch), by }, 'user changed');
    res.json(user);
  });

  routes.add(USER_ROUTES.setPassword, async (req, res) => {
    const id = userId(String(req.params.id));
    const caller = currentUser(req);
    const body = bodyOf(USER_ROUTES.setPassword, req.body);
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
    const result = await setPassword(ctx.pool, id, body.newPassword, how, caller.login, policy).catch((err) =>
      Promise.reject(asProblem(err, 'newPassword')),
    );
    if (result.status === 'no_such_user') throw notFound(`No user ${id}.`);
    // Guessing the current password here counts against the login as at sign-in, and locks it the same way.
    if (result.status === 'throttled') throw tooManyAttempts(res, result.retryAfterSeconds);
    // 403, not 401: the session is fine, the proof of knowing the current password is not.
    if (result.status === 'wrong_current_password') throw forbidden('The current password is not correct.');
    ctx.log.info({ userId: id, reset: !self, by: caller.login }, 'password set');
    res.status(204).end();
  });

  routes.add(USER_ROUTES.unlockSigning, async (req, res) => {
    const id = userId(String(req.params.id));
    const by = currentUser(req).login;
    if (!(await unlockSigning(ctx.pool, id, by))) throw notFound(`No user ${id}.`);
    ctx.log.info({ userId: id, by }, 'signing unlocked');
    res.status(204).end();
  });

  return routes.router;
}
