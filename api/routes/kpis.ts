import type { Router } from 'express';
import { kpiQuerySchema, kpiWindow } from '../../domain/kpis';
import { PRODUCTION_POLICY } from '../../domain/policy';
import { READER_ROLES } from '../../domain/roles';
import type { ApiContext } from '../context';
import { badRequest } from '../problem';
import { declaredRoutes, queryOf, type RouteSpec } from '../route';
import { computeKpis } from '../services/kpis';

export const KPI_ROUTES = {
  get: {
    method: 'get',
    path: '/kpis',
    summary:
      'KPIs over a window (default: the last 90 days), for a line or a site: open deviations, containment on time, time to closure, overdue sign-offs, CAPA effectiveness, recurrence, automated detection, discrepancy rates per line and month',
    roles: READER_ROLES,
    query: kpiQuerySchema,
  },
} satisfies Record<string, RouteSpec>;

/** The quality team's KPIs and trending (docs/kpis.md), read from the read model. */
export function kpiRoutes(ctx: ApiContext): Router {
  const routes = declaredRoutes(ctx);

  routes.add(KPI_ROUTES.get, async (req, res) => {
    const q = queryOf(KPI_ROUTES.get, req);
    const policy = ctx.policy ?? PRODUCTION_POLICY;
    const window = kpiWindow(q, new Date());
    if (!window) throw badRequest('The query string is invalid.', [{ path: 'from', message: 'from must be before to' }]);
    let siteLines: string[] | null = null;
    if (q.site !== undefined) {
      siteLines = Object.hasOwn(policy.sites, q.site) ? policy.sites[q.site]! : null;
      if (!siteLines) throw badRequest('The query string is invalid.', [{ path: 'site', message: 'no site of this name in the policy' }]);
    }
    res.json(await computeKpis(ctx.pool, { ...window, line: q.line ?? null, site: q.site ?? null, siteLines }, policy));
  });

  return routes.router;
}
