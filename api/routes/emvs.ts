import type { Request, Router } from 'express';
import { ALERT_RECORDERS, emvsAlertListQuerySchema, emvsAlertSchema, emvsAlertStatusSchema } from '../../domain/emvs';
import { READER_ROLES } from '../../domain/roles';
import type { ApiContext } from '../context';
import { notFound } from '../problem';
import { bodyOf, declaredRoutes, queryOf, type RouteSpec } from '../route';
import { changeEmvsAlertStatus, emvsAlert, listEmvsAlerts, receiveEmvsAlert } from '../services/serialization-alerts';

export const EMVS_ROUTES = {
  receive: {
    method: 'post',
    path: '/emvs/alerts',
    summary:
      "An EMVS alert as the on-boarding partner passes it on: cross-checked against the company's own data, classified (the company's own error, or suspected falsification) and a deviation opened or linked (one per batch and cause); a suspected falsification starts the regulatory notification clock. 201, or 200 for the same alert again",
    access: 'capture',
    roles: ALERT_RECORDERS,
    body: emvsAlertSchema,
  },
  list: {
    method: 'get',
    path: '/emvs/alerts',
    summary: 'EMVS alerts received, newest first: one page and the total',
    access: 'capture',
    roles: [...READER_ROLES, 'integration'],
    query: emvsAlertListQuerySchema,
  },
  get: {
    method: 'get',
    path: '/emvs/alerts/:alertId',
    summary: 'An EMVS alert: what the own data showed, its classification, its deviation and regulatory clock, its status history',
    access: 'capture',
    roles: [...READER_ROLES, 'integration'],
  },
  status: {
    method: 'post',
    path: '/emvs/alerts/:alertId/status',
    summary: "An alert's new status (as the hub's alert management has it) with the reason; recorded in its history and the audit trail",
    access: 'capture',
    roles: ALERT_RECORDERS,
    body: emvsAlertStatusSchema,
  },
} satisfies Record<string, RouteSpec>;

/** An alert ID in the path; one no alert can have is simply not found. */
function alertIdParam(req: Request): string {
  const id = String(req.params.alertId);
  if (!/^[!-~]{1,100}$/.test(id)) throw notFound(`No EMVS alert ${id.slice(0, 100)}.`);
  return id;
}

/** EU FMD: EMVS alerts into deviations (api/services/serialization-alerts.ts). */
export function emvsRoutes(ctx: ApiContext): Router {
  const routes = declaredRoutes(ctx);

  routes.add(EMVS_ROUTES.receive, async (req, res) => {
    const alert = bodyOf(EMVS_ROUTES.receive, req.body);
    const result = await receiveEmvsAlert(ctx, alert, req.user?.login ?? 'unknown');
    res
      .status(result.created ? 201 : 200)
      .location(`/emvs/alerts/${encodeURIComponent(alert.alertId)}`)
      .json(result.alert);
  });

  routes.add(EMVS_ROUTES.list, async (req, res) => {
    res.json(await listEmvsAlerts(ctx, queryOf(EMVS_ROUTES.list, req)));
  });

  routes.add(EMVS_ROUTES.get, async (req, res) => {
    res.json(await emvsAlert(ctx, alertIdParam(req)));
  });

  routes.add(EMVS_ROUTES.status, async (req, res) => {
    const alertId = alertIdParam(req);
    const change = bodyOf(EMVS_ROUTES.status, req.body);
    res.json(await changeEmvsAlertStatus(ctx, alertId, change, req.user?.login ?? 'unknown'));
  });

  return routes.router;
}
