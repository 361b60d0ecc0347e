import { z } from 'zod';
import { openDeviationSchema } from '../domain/deviation';
import { batchSchema, productSchema, repositoryReportSchema } from '../domain/master-data';
import { CAPTURE_ROLES } from '../domain/roles';
import { changePasswordSchema, createApiKeySchema, createUserSchema, loginRequestSchema, updateUserSchema } from '../domain/users';
import { auditQuerySchema } from './routes/audit';
import { securityLogQuerySchema } from './routes/auth';
import { listDeviationsQuerySchema } from './routes/deviations';
import { CHANGE_CONTROL_ROUTES, STEP_ROUTES } from './routes/lifecycle';
import { inboxQuerySchema } from './routes/tasks';
import { cancelBodySchema, rejectBodySchema, signBodySchema } from './services/signing';

/**
 * The OpenAPI 3.1 document, generated from the same zod schemas the routes validate with, so
 * the document cannot drift from what the API accepts. Served at GET /openapi.json.
 */
export interface Operation {
  method: 'get' | 'post' | 'patch' | 'delete' | 'options';
  path: string;
  summary: string;
  roles?: readonly string[];
  body?: z.ZodType;
  query?: z.ZodObject;
  /** Anything but JSON in the answer. */
  produces?: string;
  public?: boolean;
}

const jsonSchema = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });

export const OPERATIONS: Operation[] = [
  { method: 'get', path: '/health', summary: 'PostgreSQL and Temporal answer and a worker polls the deviation task queue (200), or not (503)', public: true },
  { method: 'get', path: '/openapi.json', summary: 'This document', public: true },
  { method: 'post', path: '/auth/login', summary: 'Sign in: an opaque session token', body: loginRequestSchema, public: true },
  { method: 'post', path: '/auth/logout', summary: 'End the session' },
  { method: 'get', path: '/me', summary: 'The signed-in user' },
  { method: 'get', path: '/security-log', summary: 'Failed sign-ins and signatures, lockouts', roles: ['admin', 'auditor', 'qa_head'], query: securityLogQuerySchema },
  { method: 'post', path: '/users', summary: 'Create a user', roles: ['admin'], body: createUserSchema },
  { method: 'get', path: '/users', summary: 'List users', roles: ['admin', 'auditor'] },
  { method: 'get', path: '/users/{id}', summary: 'One user', roles: ['admin', 'auditor'] },
  { method: 'patch', path: '/users/{id}', summary: 'Change roles, printed name, active', roles: ['admin'], body: updateUserSchema },
  { method: 'post', path: '/users/{id}/password', summary: 'Change or reset a password', body: changePasswordSchema },
  { method: 'post', path: '/users/{id}/unlock-signing', summary: 'Lift a signing lock', roles: ['admin'] },
  { method: 'post', path: '/api-keys', summary: 'Create an API key (shown once)', roles: ['admin'], body: createApiKeySchema },
  { method: 'get', path: '/api-keys', summary: 'List API keys', roles: ['admin', 'auditor'] },
  { method: 'delete', path: '/api-keys/{id}', summary: 'Revoke an API key', roles: ['admin'] },
  { method: 'post', path: '/deviations', summary: 'Open a deviation (Idempotency-Key header optional)', roles: ['qa_lead', 'integration'], body: openDeviationSchema },
  { method: 'get', path: '/deviations', summary: 'List deviations from the read model', query: listDeviationsQuerySchema },
  { method: 'get', path: '/deviations/{id}', summary: 'A deviation: stage, deadlines, holds, tasks, rounds, signatures' },
  ...STEP_ROUTES.map((r) => ({ method: 'post' as const, path: `/deviations/{id}/${r.path.replace(/:(\w+)/g, '{$1}')}`, summary: `Lifecycle step: ${r.path}`, roles: r.roles, body: r.schema })),
  { method: 'post', path: '/deviations/{id}/cancel', summary: 'Cancel with a justification and an electronic signature', roles: ['qa_lead', 'qa_head'], body: cancelBodySchema },
  ...CHANGE_CONTROL_ROUTES.map((r) => ({ method: 'post' as const, path: `/deviations/{id}/change-controls/{cc}/${r.path}`, summary: `Change control: ${r.path}`, roles: r.roles, body: r.schema })),
  { method: 'get', path: '/deviations/{id}/change-controls/{cc}', summary: 'A change control' },
  { method: 'get', path: '/deviations/{id}/history', summary: 'Full event history, as `temporal workflow show --output json` writes it', roles: ['auditor', 'qa_head', 'qa_lead', 'qa_approver'] },
  { method: 'post', path: '/deviations/{id}/replay', summary: 'Replay the history against the deployed workflow code', roles: ['auditor', 'qa_head', 'qa_lead', 'qa_approver'] },
  { method: 'get', path: '/deviations/{id}/evidence', summary: 'Inspection evidence package (zip)', roles: ['auditor', 'qa_head', 'qa_lead', 'qa_approver'], produces: 'application/zip' },
  { method: 'get', path: '/tasks', summary: "The caller's sign-off inbox", query: inboxQuerySchema },
  { method: 'get', path: '/tasks/{id}', summary: 'One sign-off task' },
  { method: 'post', path: '/tasks/{id}/sign', summary: 'Sign: meaning, comment, login and password again', body: signBodySchema },
  { method: 'post', path: '/tasks/{id}/reject', summary: 'Reject with a reason (signed); the gate goes back for rework', body: rejectBodySchema },
  { method: 'get', path: '/signatures/verify', summary: 'Recompute the signature ledger hash chain', roles: ['qa_head', 'auditor', 'admin'] },
  { method: 'get', path: '/audit', summary: 'Audit trail, paged; CSV with format=csv', roles: ['auditor', 'qa_head', 'admin'], query: auditQuerySchema },
  { method: 'get', path: '/audit/verify', summary: 'Recompute the audit trail hash chain', roles: ['auditor', 'qa_head', 'admin'] },
  { method: 'post', path: '/products', summary: 'Product master data', roles: ['integration'], body: productSchema },
  { method: 'post', path: '/batches', summary: 'Batch master data', roles: ['integration'], body: batchSchema },
  { method: 'post', path: '/batches/{lot}/repository-reports', summary: 'What EMVS / the DSCSA partner acknowledged', roles: ['integration'], body: repositoryReportSchema },
  { method: 'post', path: '/batches/{lot}/reconciliation', summary: 'Run a batch reconciliation and store its report (201, the report)', roles: ['any role but auditor', 'integration'] },
  { method: 'get', path: '/batches/{lot}/reconciliation', summary: 'The latest stored reconciliation report of a batch (404 naming the POST when none)', roles: ['any reader role', 'integration'] },
  { method: 'options', path: '/epcis/capture', summary: 'EPCIS REST binding capabilities', roles: CAPTURE_ROLES },
  { method: 'post', path: '/epcis/capture', summary: 'Capture an EPCIS 2.0 document (validated whole, all or nothing; 503 with Retry-After when it collided with another transaction and may be sent again)', roles: CAPTURE_ROLES, produces: 'application/json' },
  { method: 'get', path: '/epcis/capture/{captureId}', summary: 'A capture job', roles: CAPTURE_ROLES },
];

const PROBLEM = { description: 'Problem details (RFC 9457)', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } };

export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const params = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const query = op.query
      ? Object.entries(op.query.shape).map(([name, schema]) => ({ name, in: 'query', required: false, schema: jsonSchema(schema as z.ZodType) }))
      : [];
    (paths[op.path] ??= {})[op.method] = {
      summary: op.summary,
      ...(op.roles ? { description: `Roles: ${op.roles.join(', ')}` } : {}),
      ...(op.public ? { security: [] } : {}),
      parameters: [...params, ...query],
      ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(op.body) } } } } : {}),
      responses: {
        '200': { description: 'OK', content: { [op.produces ?? 'application/json']: {} } },
        '400': PROBLEM,
        ...(op.public ? {} : { '401': PROBLEM, '403': PROBLEM }),
        '404': PROBLEM,
        '409': PROBLEM,
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'GxP Deviation Engine API', version: '0.1.0', description: 'Serialization and track-and-trace deviations (DSCSA, EU FMD) with Part 11 electronic signatures.' },
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } },
      schemas: {
        Problem: {
          type: 'object',
          properties: { type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' }, errors: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } } },
          required: ['title', 'status'],
        },
      },
    },
    security: [{ bearer: [] }, { apiKey: [] }],
  };
}
