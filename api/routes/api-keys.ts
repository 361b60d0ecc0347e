import type { Router } from 'express';
import { createApiKeyWithAudit, listApiKeys, revokeApiKey } from '../../auth/api-keys';
import { createApiKeySchema } from '../../domain/users';
import { currentUser, forbidden } from '../auth';
import type { ApiContext } from '../context';
import { notFound } from '../problem';
import { bodyOf, declaredRoutes, type RouteSpec } from '../route';

const KEY_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const API_KEY_ROUTES = {
  create: { method: 'post', path: '/api-keys', summary: 'Create an API key (shown once)', roles: ['admin'], body: createApiKeySchema },
  list: { method: 'get', path: '/api-keys', summary: 'List API keys', roles: ['admin', 'auditor'] },
  revoke: { method: 'delete', path: '/api-keys/:id', summary: 'Revoke an API key', roles: ['admin'] },
} satisfies Record<string, RouteSpec>;

/** API keys for machine clients: created by an administrator, shown once, revoked but never deleted. */
export function apiKeyRoutes(ctx: ApiContext): Router {
  const routes = declaredRoutes(ctx);

  routes.add(API_KEY_ROUTES.create, async (req, res) => {
    const caller = currentUser(req);
    // A key is answerable to a person: keys do not mint keys.
    if (caller.kind !== 'user') throw forbidden('API keys are created by a signed-in administrator.');
    const body = bodyOf(API_KEY_ROUTES.create, req.body);
    const created = await createApiKeyWithAudit(ctx.pool, body, { id: caller.id, login: caller.login });
    ctx.log.info({ apiKeyId: created.id, name: created.name, roles: created.roles, by: caller.login }, 'API key created');
    res.status(201).location(`/api-keys/${created.id}`).set('Cache-Control', 'no-store').json(created);
  });

  routes.add(API_KEY_ROUTES.list, async (_req, res) => {
    res.json({ items: await listApiKeys(ctx.pool) });
  });

  routes.add(API_KEY_ROUTES.revoke, async (req, res) => {
    const caller = currentUser(req);
    if (caller.kind !== 'user') throw forbidden('API keys are revoked by a signed-in administrator.');
    const id = String(req.params.id);
    if (!KEY_ID_PATTERN.test(id) || !(await revokeApiKey(ctx.pool, id, { id: caller.id, login: caller.login })))
      throw notFound(`No live API key ${id}.`);
    ctx.log.info({ apiKeyId: id, by: caller.login }, 'API key revoked');
    res.status(204).end();
  });

  return routes.router;
}
