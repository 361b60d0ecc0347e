import type { Request, Router } from 'express';
import { z } from 'zod';
import { lineText } from '../../domain/text';
import { isoDateTime } from '../../domain/iso-time';
import { auditCsvHeader, auditCsvLine, queryAudit, streamAudit, verifyAuditTrail } from '../../audit/trail';
import type { Role } from '../../domain/roles';
import type { ApiContext } from '../context';
import { declaredRoutes, queryOf, type RouteSpec } from '../route';

/** The cursor is the last row's id, opaque to clients so the paging scheme can change. */
const MAX_BIGINT = 9_223_372_036_854_775_807n;
const cursorSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,40}$/)
  .transform((c, ctx) => {
    const id = Buffer.from(c, 'base64url').toString('utf8');
    // A row ID is a bigint: 19 digits can still exceed its largest value.
    if (!/^\d{1,19}$/.test(id) || BigInt(id) > MAX_BIGINT) {
      ctx.addIssue({ code: 'custom', message: 'not a cursor this API issued' });
      return z.NEVER;
    }
    return id;
  });
const encodeCursor = (id: string) => Buffer.from(id, 'utf8').toString('base64url');

export const auditQuerySchema = z
  .object({
    deviation: lineText(100).optional(),
    actor: lineText(200).optional(),
    from: isoDateTime.optional(),
    to: isoDateTime.optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
    cursor: cursorSchema.optional(),
    format: z.enum(['json', 'csv']).optional(),
  })
  .strict()
  .refine((q) => !q.from || !q.to || Date.parse(q.from) <= Date.parse(q.to), { message: '"from" must not be after "to"', path: ['from'] });

function wantsCsv(req: Request, format: string | undefined): boolean {
  if (format) return format === 'csv';
  return req.accepts(['application/json', 'text/csv']) === 'text/csv';
}

/** Who reads the audit trail and runs its verification. */
export const AUDIT_READER_ROLES: Role[] = ['auditor', 'qa_head', 'admin'];

export const AUDIT_ROUTES = {
  list: {
    method: 'get',
    path: '/audit',
    summary: 'Audit trail, paged; CSV with format=csv',
    roles: AUDIT_READER_ROLES,
    query: auditQuerySchema,
  },
  verify: { method: 'get', path: '/audit/verify', summary: 'Recompute the audit trail hash chain', roles: AUDIT_READER_ROLES },
} satisfies Record<string, RouteSpec>;

/** The audit trail for auditors: filtered, paged (JSON) or exported whole (CSV), and its verification. */
export function auditRoutes(ctx: ApiContext): Router {
  const routes = declaredRoutes(ctx);

  routes.add(AUDIT_ROUTES.list, async (req, res) => {
    const q = queryOf(AUDIT_ROUTES.list, req);
    const filter = {
      deviation: q.deviation,
      actor: q.actor,
      from: q.from ? new Date(q.from) : undefined,
      to: q.to ? new Date(q.to) : undefined,
    };
    if (wantsCsv(req, q.format)) {
      // The export is the whole filtered trail (or `limit` rows), streamed page by page.
      res
        .status(200)
        .type('text/csv; charset=utf-8')
        .attachment(`audit-trail${q.deviation ? `-${q.deviation}` : ''}.csv`);
      res.write(auditCsvHeader());
      for await (const row of streamAudit(ctx.pool, filter, q.limit)) {
        if (!res.write(auditCsvLine(row))) await new Promise((resolve) => res.once('drain', resolve));
      }
      res.end();
      return;
    }
    const limit = q.limit ?? 100;
    const items = await queryAudit(ctx.pool, { ...filter, afterId: q.cursor, limit: limit + 1 });
    const page = items.slice(0, limit);
    res.json({ items: page, limit, nextCursor: items.length > limit ? encodeCursor(page[page.length - 1]!.id) : null });
  });

  routes.add(AUDIT_ROUTES.verify, async (_req, res) => {
    const result = await verifyAuditTrail(ctx.pool);
    res.json({ ...result, checkedAt: new Date().toISOString() });
  });

  return routes.router;
}
