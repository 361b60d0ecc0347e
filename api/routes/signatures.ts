import { Router } from 'express';
import { LEDGER_VERIFIER_ROLES } from '../../domain/roles';
import { verifyLedger } from '../../signatures/ledger';
import { authenticate, requireRole } from '../auth';
import type { ApiContext } from '../context';

/** The ledger's integrity check (21 CFR 11.10(e)); a broken chain is a finding, still answered 200. */
export function signatureRoutes(ctx: ApiContext): Router {
  const router = Router();
  router.get('/signatures/verify', authenticate(ctx), requireRole(...LEDGER_VERIFIER_ROLES), async (_req, res) => {
    const result = await verifyLedger(ctx.pool);
    if (!result.ok) ctx.log.error({ ...result }, 'signature ledger verification failed');
    res.set('Cache-Control', 'no-store').json({ ...result, checkedAt: new Date().toISOString() });
  });
  return router;
}
