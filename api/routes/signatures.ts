import type { Router } from 'express';
import { LEDGER_VERIFIER_ROLES } from '../../domain/roles';
import { verifyLedger } from '../../signatures/ledger';
import type { ApiContext } from '../context';
import { declaredRoutes, type RouteSpec } from '../route';

export const SIGNATURE_ROUTES = {
  verify: { method: 'get', path: '/signatures/verify', summary: 'Recompute the signature ledger hash chain', roles: LEDGER_VERIFIER_ROLES },
} satisfies Record<string, RouteSpec>;

/** The ledger's integrity check (21 CFR 11.10(e)); a broken chain is a finding, still answered 200. */
export function signatureRoutes(ctx: ApiContext): Router {
  const routes = declaredRoutes(ctx);
  routes.add(SIGNATURE_ROUTES.verify, async (_req, res) => {
    const result = await verifyLedger(ctx.pool);
    if (!result.ok) ctx.log.error({ ...result }, 'signature ledger verification failed');
    res.set('Cache-Control', 'no-store').json({ ...result, checkedAt: new Date().toISOString() });
  });
  return routes.router;
}
