import type { Router } from 'express';
import { z } from 'zod';
import type { Role } from '../domain/roles';
import type { ApiContext } from './context';
import { declaredRoutes, openApiPath, type HttpMethod, type RouteSpec } from './route';
import { API_KEY_ROUTES } from './routes/api-keys';
import { AUDIT_ROUTES } from './routes/audit';
import { AUTH_ROUTES } from './routes/auth';
import { DEVIATION_ROUTES } from './routes/deviations';
import { DSCSA_ROUTES } from './routes/dscsa';
import { EMVS_ROUTES } from './routes/emvs';
import { EPCIS_ROUTES } from './routes/epcis';
import { EPCIS_QUERY_ROUTES } from './routes/epcis-query';
import { EPCIS_SUBSCRIPTION_ROUTES } from './routes/epcis-subscriptions';
import { EVIDENCE_ROUTES } from './routes/evidence';
import { HEALTH_ROUTES } from './routes/health';
import { KPI_ROUTES } from './routes/kpis';
import { LIFECYCLE_ROUTES } from './routes/lifecycle';
import { MASTER_DATA_ROUTES } from './routes/master-data';
import { SIGNATURE_ROUTES } from './routes/signatures';
import { SPC_ROUTES } from './routes/spc';
import { TASK_ROUTES } from './routes/tasks';
import { USER_ROUTES } from './routes/users';

/**
 * The OpenAPI 3.1 document, generated from the routes' own declarations (api/route.ts): the same
 * zod schemas the routes validate with and the same roles they enforce, so the document cannot
 * drift from what the API accepts. Served at GET /openapi.json.
 */
export interface Operation {
  method: HttpMethod;
  /** In OpenAPI form: `/users/{id}`. */
  path: string;
  summary: string;
  roles?: readonly Role[];
  body?: z.ZodType;
  query?: z.ZodObject;
  /** Anything but JSON in the answer; several when the route negotiates (Accept). */
  produces?: string | readonly string[];
  /** The media types of a streamed body the route reads itself. */
  consumes?: readonly string[];
  /** The JSON answer's schema, where the route declares one. */
  response?: z.ZodType;
  public?: boolean;
}

const jsonSchema = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });

export const OPENAPI_ROUTES = {
  document: { method: 'get', path: '/openapi.json', summary: 'This document', access: 'public' },
} satisfies Record<string, RouteSpec>;

/** Every route the API serves, as declared by its router. */
export const ROUTES: readonly RouteSpec[] = [
  ...Object.values(HEALTH_ROUTES),
  ...Object.values(OPENAPI_ROUTES),
  ...Object.values(AUTH_ROUTES),
  ...Object.values(USER_ROUTES),
  ...Object.values(API_KEY_ROUTES),
  ...Object.values(DEVIATION_ROUTES),
  ...LIFECYCLE_ROUTES,
  ...Object.values(EVIDENCE_ROUTES),
  ...Object.values(TASK_ROUTES),
  ...Object.values(SIGNATURE_ROUTES),
  ...Object.values(AUDIT_ROUTES),
  ...Object.values(MASTER_DATA_ROUTES),
  ...Object.values(EPCIS_ROUTES),
  ...Object.values(EPCIS_QUERY_ROUTES),
  ...Object.values(EPCIS_SUBSCRIPTION_ROUTES),
  ...Object.values(SPC_ROUTES),
  ...Object.values(KPI_ROUTES),
  ...Object.values(EMVS_ROUTES),
  ...Object.values(DSCSA_ROUTES),
];

function operationOf(route: RouteSpec): Operation {
  return {
    method: route.method,
    path: openApiPath(route.path),
    summary: route.summary,
    ...(route.roles ? { roles: route.roles } : {}),
    ...(route.body ? { body: route.body } : {}),
    ...(route.query ? { query: route.query } : {}),
    ...(route.produces ? { produces: route.produces } : {}),
    ...(route.consumes ? { consumes: route.consumes } : {}),
    ...(route.response ? { response: route.response } : {}),
    ...(route.access === 'public' ? { public: true } : {}),
  };
}

/** The operations of the document, one per declared route. */
export const OPERATIONS: Operation[] = ROUTES.map(operationOf);

const PROBLEM = {
  description: 'Problem details (RFC 9457)',
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
};

export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const params = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const query = op.query
      ? Object.entries(op.query.shape).map(([name, schema]) => ({
          name,
          in: 'query',
          required: false,
          schema: jsonSchema(schema as z.ZodType),
        }))
      : [];
    (paths[op.path] ??= {})[op.method] = {
      summary: op.summary,
      ...(op.roles ? { description: `Roles: ${op.roles.join(', ')}` } : {}),
      ...(op.public ? { security: [] } : {}),
      parameters: [...params, ...query],
      ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(op.body) } } } } : {}),
      ...(op.consumes ? { requestBody: { required: true, content: Object.fromEntries(op.consumes.map((type) => [type, {}])) } } : {}),
      responses: {
        '200': {
          description: 'OK',
          content: Object.fromEntries(
            [op.produces ?? 'application/json']
              .flat()
              .map((type) => [type, op.response ? { schema: z.toJSONSchema(op.response, { io: 'output', unrepresentable: 'any' }) } : {}]),
          ),
        },
        '400': PROBLEM,
        ...(op.public ? {} : { '401': PROBLEM, '403': PROBLEM }),
        '404': PROBLEM,
        ...(Array.isArray(op.produces) ? { '406': PROBLEM } : {}),
        '409': PROBLEM,
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'GxP Deviation Engine API',
      version: '0.1.0',
      description: 'Serialization and track-and-trace deviations (DSCSA, EU FMD) with Part 11 electronic signatures.',
    },
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } },
      schemas: {
        Problem: {
          type: 'object',
          properties: {
            type: { type: 'string' },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            errors: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
          },
          required: ['title', 'status'],
        },
      },
    },
    security: [{ bearer: [] }, { apiKey: [] }],
  };
}

/** GET /openapi.json. */
export function openApiRoutes(ctx: ApiContext): Router {
  const routes = declaredRoutes(ctx);
  const document = openApiDocument();
  routes.add(OPENAPI_ROUTES.document, (_req, res) => void res.json(document));
  return routes.router;
}
