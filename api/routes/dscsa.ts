import type { Router } from 'express';
import { z } from 'zod';
import { recordVerificationSchema, verificationResponseSchema, verifyPathSchema, verifyQuerySchema } from '../../domain/dscsa';
import { ALERT_RECORDERS } from '../../domain/emvs';
import { lotSchema } from '../../domain/master-data';
import { READER_ROLES } from '../../domain/roles';
import type { ApiContext } from '../context';
import { badRequest, notFound, zodProblems } from '../problem';
import { bodyOf, declaredRoutes, queryOf, type RouteSpec } from '../route';
import { answerDscsaVerification, listDscsaVerifications, recordDscsaVerification } from '../services/serialization-alerts';

const verificationListQuerySchema = z
  .object({
    channel: z.enum(['recorded', 'answered']).optional(),
    verified: z
      .enum(['true', 'false'])
      .transform((v) => v === 'true')
      .optional(),
    lot: lotSchema.optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
  })
  .strict();

export const DSCSA_ROUTES = {
  record: {
    method: 'post',
    path: '/dscsa/verifications',
    summary:
      "A DSCSA verification request and its response (GS1 Lightweight Messaging Standard fields); one not verified, for the company's own product, is cross-checked like an EMVS alert and opens or links a deviation. 201, or 200 for the same correlation UUID again",
    access: 'capture',
    roles: ALERT_RECORDERS,
    body: recordVerificationSchema,
  },
  list: {
    method: 'get',
    path: '/dscsa/verifications',
    summary: 'DSCSA verifications recorded and answered, newest first: one page and the total',
    access: 'capture',
    roles: [...READER_ROLES, 'integration'],
    query: verificationListQuerySchema,
  },
  verify: {
    method: 'get',
    path: '/dscsa/verify/gtin/:gtin/lot/:lot/ser/:serial',
    summary:
      "Verification of a product identifier of the company's own product, answered from commissioning data as the GS1 Lightweight Messaging Standard responds (404 for a GTIN not the company's); the answer is recorded",
    access: 'capture',
    roles: ALERT_RECORDERS,
    query: verifyQuerySchema,
    response: verificationResponseSchema,
  },
} satisfies Record<string, RouteSpec>;

/** DSCSA: verifications recorded (and into deviations), and requests answered as the manufacturer. */
export function dscsaRoutes(ctx: ApiContext): Router {
  const routes = declaredRoutes(ctx);

  routes.add(DSCSA_ROUTES.record, async (req, res) => {
    const verification = bodyOf(DSCSA_ROUTES.record, req.body);
    const result = await recordDscsaVerification(ctx, verification, req.user?.login ?? 'unknown');
    res
      .status(result.created ? 201 : 200)
      .location(`/dscsa/verifications?lot=${encodeURIComponent(verification.lotNumber)}`)
      .json(result.verification);
  });

  routes.add(DSCSA_ROUTES.list, async (req, res) => {
    res.json(await listDscsaVerifications(ctx, queryOf(DSCSA_ROUTES.list, req)));
  });

  routes.add(DSCSA_ROUTES.verify, async (req, res) => {
    const path = verifyPathSchema.safeParse({ gtin: req.params.gtin, lot: req.params.lot, serial: req.params.serial });
    if (!path.success) throw badRequest('The product identifier in the path is invalid.', zodProblems(path.error));
    const q = queryOf(DSCSA_ROUTES.verify, req);
    const response = await answerDscsaVerification(
      ctx,
      { ...path.data, expiry: q.exp },
      { reqGLN: q.reqGLN, corrUUID: q.corrUUID, context: q.context },
      req.user?.login ?? 'unknown',
    );
    if (!response) throw notFound(`GTIN ${path.data.gtin} is not a product of this responder.`);
    res.json(verificationResponseSchema.parse(response));
  });

  return routes.router;
}
