import express, { type Express } from 'express';
import { auditApiCalls } from '../audit/middleware';
import { jsonBodies } from './body-limits';
import type { ApiContext } from './context';
import { HttpProblem, problemHandler } from './problem';
import { auditRoutes } from './routes/audit';
import { deviationRoutes } from './routes/deviations';
import { dscsaRoutes } from './routes/dscsa';
import { emvsRoutes } from './routes/emvs';
import { evidenceRoutes } from './routes/evidence';
import { healthRoutes } from './routes/health';
import { kpiRoutes } from './routes/kpis';
import { apiKeyRoutes } from './routes/api-keys';
import { authRoutes } from './routes/auth';
import { signatureRoutes } from './routes/signatures';
import { spcRoutes } from './routes/spc';
import { userRoutes } from './routes/users';
import { lifecycleRoutes } from './routes/lifecycle';
import { epcisRoutes } from './routes/epcis';
import { epcisQueryRoutes } from './routes/epcis-query';
import { epcisSubscriptionRoutes } from './routes/epcis-subscriptions';
import { masterDataRoutes, repositoryReportRoutes } from './routes/master-data';
import { taskRoutes } from './routes/tasks';
import { openApiRoutes } from './openapi';
import { sessionCookies } from './session-cookie';
import { securityHeaders, webRoutes } from './web';

/** Builds the HTTP API without listening, so tests drive it directly. */
export function createApp(ctx: ApiContext): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  if (ctx.config.TRUST_PROXY_HOPS) app.set('trust proxy', ctx.config.TRUST_PROXY_HOPS);
  app.use(securityHeaders()); // helmet on every answer: CSP, no sniffing, no framing
  app.use(webRoutes()); // the web application: /, /app/*, /assets/* only, never an API path
  // The browser's session: an HttpOnly, SameSite cookie read as the Bearer token, a write without
  // the X-CSRF header refused. Before every route, capture included.
  app.use(sessionCookies());
  app.use(epcisRoutes(ctx)); // EPCIS capture streams its own body: mounted before the JSON parser
  app.use(repositoryReportRoutes(ctx)); // so do repository reports (millions of serials)
  // Every other body: at most 1 MiB and 64 levels deep, refused before any handler or the audit middleware.
  app.use(jsonBodies({ stallMs: ctx.config.BODY_STALL_TIMEOUT_MS }));

  app.use(auditApiCalls(ctx));
  app.use(openApiRoutes(ctx));
  app.use(healthRoutes(ctx));
  app.use(deviationRoutes(ctx));
  app.use(evidenceRoutes(ctx));
  app.use(auditRoutes(ctx));
  app.use(authRoutes(ctx));
  app.use(userRoutes(ctx));
  app.use(apiKeyRoutes(ctx));
  app.use(signatureRoutes(ctx));
  app.use(lifecycleRoutes(ctx));
  app.use(masterDataRoutes(ctx));
  app.use(taskRoutes(ctx));
  app.use(spcRoutes(ctx));
  app.use(kpiRoutes(ctx));
  app.use(epcisQueryRoutes(ctx)); // the EPCIS 2.0 query interface and the trace (reads only)
  app.use(epcisSubscriptionRoutes(ctx)); // its named queries and webhook subscriptions
  app.use(emvsRoutes(ctx));
  app.use(dscsaRoutes(ctx));

  app.use((req, _res, next) => next(new HttpProblem(404, 'Not Found', `No route for ${req.method} ${req.path}.`)));
  app.use(problemHandler(ctx.log));
  return app;
}
