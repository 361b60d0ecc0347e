import { Router, type Request, type RequestHandler } from 'express';
import type { z } from 'zod';
import type { AuthenticatedUser } from '../auth/types';
import type { Role } from '../domain/roles';
import { authenticate, requireRole } from './auth';
import { requireCaptureAccess } from './capture-auth';
import type { ApiContext } from './context';
import { parseOr400 } from './validate';

export type HttpMethod = 'get' | 'post' | 'patch' | 'delete' | 'options';

/**
 * One route, declared as data. Its router registers it from the declaration, access checks
 * included (declaredRoutes below), and the OpenAPI document describes it from the same
 * declaration (api/openapi.ts), so who may call a route and what it takes cannot differ between
 * the two. Each router module exports its declarations; api/openapi.ts lists them all.
 */
export interface RouteSpec {
  method: HttpMethod;
  /** In Express form: `/users/:id`. */
  path: string;
  summary: string;
  /**
   * How the caller is identified. `signed-in` (the default): a session token or an API key
   * (api/auth.ts authenticate). `capture`: the same, or the configured capture key
   * (api/capture-auth.ts), for the machine clients' routes. `public`: nobody signs in.
   */
  access?: 'signed-in' | 'capture' | 'public';
  /** The caller must hold one of these roles (requireRole); absent: any signed-in caller. */
  roles?: readonly Role[];
  /** A session whose password must change may still call the route when this says so. */
  allowWhilePasswordMustChange?: (req: Request, user: AuthenticatedUser) => boolean;
  /** The JSON body the route validates (bodyOf). */
  body?: z.ZodType;
  /** The query string the route validates (queryOf). */
  query?: z.ZodObject;
  /** The answer's media type, when it is not JSON; several when the route answers in the one the request accepts (else 406). */
  produces?: string | readonly string[];
  /** The media types of a streamed body (read by the route itself, not by the JSON body parser), for the OpenAPI document. */
  consumes?: readonly string[];
  /** The JSON answer, for the OpenAPI document (the handler type-checks what it sends against it). */
  response?: z.ZodType;
}

export interface DeclaredRoutes {
  router: Router;
  /** Registers the declared route: its access checks, then the handlers. */
  add(spec: RouteSpec, ...handlers: RequestHandler[]): void;
}

/** A router whose routes are registered from their declarations. */
export function declaredRoutes(ctx: Pick<ApiContext, 'pool' | 'config'>): DeclaredRoutes {
  const router = Router();
  const signedIn = authenticate(ctx);
  return {
    router,
    add(spec, ...handlers) {
      router[spec.method](spec.path, ...accessChecks(ctx, spec, signedIn), ...handlers);
    },
  };
}

function accessChecks(ctx: Pick<ApiContext, 'pool' | 'config'>, spec: RouteSpec, signedIn: RequestHandler): RequestHandler[] {
  const access = spec.access ?? 'signed-in';
  if (access === 'public') {
    if (spec.roles) throw new Error(`${spec.method} ${spec.path}: a public route has no roles`);
    return [];
  }
  if (access === 'capture') {
    // The configured capture key stands for an integration client: a route it opens lets integration in.
    if (!spec.roles?.includes('integration')) throw new Error(`${spec.method} ${spec.path}: a capture route lets integration clients in`);
    return [requireCaptureAccess(ctx, ...spec.roles)];
  }
  const auth = spec.allowWhilePasswordMustChange
    ? authenticate(ctx, { allowWhilePasswordMustChange: spec.allowWhilePasswordMustChange })
    : signedIn;
  return spec.roles ? [auth, requireRole(...spec.roles)] : [auth];
}

/** The request body, validated with the route's declared schema (or a 400 naming each bad field). */
export function bodyOf<B extends z.ZodType>(spec: { body: B }, body: unknown): z.infer<B> {
  return parseOr400(spec.body, body);
}

/** The query string, validated with the route's declared schema (or a 400 naming each bad parameter). */
export function queryOf<Q extends z.ZodObject>(spec: { query: Q }, req: Request): z.infer<Q> {
  return parseOr400(spec.query, req.query, 'query string');
}

/** `/users/:id` as OpenAPI writes it: `/users/{id}`. */
export const openApiPath = (path: string) => path.replace(/:(\w+)/g, '{$1}');
