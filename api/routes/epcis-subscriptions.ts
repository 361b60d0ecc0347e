import type { Request, Response, Router } from 'express';
import { z } from 'zod';
import {
  listPageSchema,
  NAMED_QUERY_AUTHORS,
  NAMED_QUERY_READERS,
  namedQueryBodySchema,
  namedQueryEventsSchema,
  namedQueryViewSchema,
  QUERY_NAME,
  SUBSCRIPTION_MANAGERS,
  SUBSCRIPTION_READERS,
  subscriptionBodySchema,
  subscriptionViewSchema,
} from '../../domain/epcis-subscriptions';
import { decodePageToken, queryEvents } from '../../epcis/query';
import { filterOfParams, namedQueries, namedQuery, subscription, subscriptions } from '../../epcis/subscriptions';
import type { ApiContext } from '../context';
import { HttpProblem, zodProblems } from '../problem';
import { declaredRoutes, type RouteSpec } from '../route';
import {
  createNamedQuery,
  createSubscription,
  deleteNamedQuery,
  deleteSubscription,
  noSuchQuery,
  subscriptionProblem,
} from '../services/epcis-subscriptions';
import { answerType, BINDING_HEADERS, nextPageLink, QUERY_MEDIA_TYPES, sendPage } from './epcis-query';

/**
 * Named queries and webhook subscriptions of the EPCIS 2.0 REST binding (/queries,
 * /queries/{queryName}/events, /queries/{queryName}/subscriptions), under the /epcis base of the
 * query interface. Delivery runs in the API process's own loop (epcis/subscription-delivery.ts).
 */

export const EPCIS_SUBSCRIPTION_ROUTES = {
  createQuery: {
    method: 'post',
    path: '/epcis/queries',
    summary:
      'Creates a named EPCIS query (REST binding QueryDefinition): a name and the parameters GET /epcis/events takes, each list as an array or pipe-delimited; 201 with its Location, 409 when the name is taken',
    access: 'capture',
    roles: NAMED_QUERY_AUTHORS,
    body: namedQueryBodySchema,
    response: namedQueryViewSchema,
  },
  listQueries: {
    method: 'get',
    path: '/epcis/queries',
    summary: 'The named queries, in name order, perPage at a time; the next page in the Link header (rel="next")',
    access: 'capture',
    roles: NAMED_QUERY_READERS,
    query: listPageSchema,
    response: z.array(namedQueryViewSchema),
  },
  getQuery: {
    method: 'get',
    path: '/epcis/queries/:queryName',
    summary: 'A named query: its name and parameters',
    access: 'capture',
    roles: NAMED_QUERY_READERS,
    response: namedQueryViewSchema,
  },
  deleteQuery: {
    method: 'delete',
    path: '/epcis/queries/:queryName',
    summary:
      'Removes a named query and unsubscribes its subscriptions (409 when it has some and the caller may not unsubscribe: integration or it)',
    access: 'capture',
    roles: NAMED_QUERY_AUTHORS,
  },
  queryEvents: {
    method: 'get',
    path: '/epcis/queries/:queryName/events',
    produces: QUERY_MEDIA_TYPES,
    summary:
      "The events matching a named query, as an EPCISQueryDocument, paged like GET /epcis/events (perPage, nextPageToken); the query's own parameters cannot be added to",
    access: 'capture',
    roles: NAMED_QUERY_READERS,
    query: namedQueryEventsSchema,
  },
  subscribe: {
    method: 'post',
    path: '/epcis/queries/:queryName/subscriptions',
    summary:
      'Subscribes a webhook to a named query ("stream": true; schedules are refused): each matching event captured from initialRecordTime (default now) on is POSTed to dest once, in record order, as an EPCISQueryDocument signed with HMAC-SHA256 under signatureToken (GS1-Signature: sha256=<hex>), retried with backoff. The token is never shown again',
    access: 'capture',
    roles: SUBSCRIPTION_MANAGERS,
    body: subscriptionBodySchema,
    response: subscriptionViewSchema,
  },
  listSubscriptions: {
    method: 'get',
    path: '/epcis/queries/:queryName/subscriptions',
    summary: "A named query's subscriptions, oldest first, with their delivery state (never their tokens)",
    access: 'capture',
    roles: SUBSCRIPTION_READERS,
    query: listPageSchema,
    response: z.array(subscriptionViewSchema),
  },
  getSubscription: {
    method: 'get',
    path: '/epcis/queries/:queryName/subscriptions/:subscriptionID',
    summary: 'A subscription and its delivery state: events delivered, last notified, attempts and last error of a failing receiver',
    access: 'capture',
    roles: SUBSCRIPTION_READERS,
    response: subscriptionViewSchema,
  },
  unsubscribe: {
    method: 'delete',
    path: '/epcis/queries/:queryName/subscriptions/:subscriptionID',
    summary: 'Unsubscribes: nothing more is delivered to its webhook',
    access: 'capture',
    roles: SUBSCRIPTION_MANAGERS,
  },
} satisfies Record<string, RouteSpec>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The query name in the path; one no query can have is simply not found. */
function queryNameParam(req: Request): string {
  const name = String(req.params.queryName ?? '');
  if (!QUERY_NAME.test(name)) throw noSuchQuery(name.slice(0, 100));
  return name;
}

function subscriptionIdParam(req: Request, name: string): string {
  const id = String(req.params.subscriptionID ?? '');
  if (!UUID.test(id)) throw noSuchSubscription(name, id.slice(0, 100));
  return id.toLowerCase();
}

const noSuchSubscription = (name: string, id: string) =>
  new HttpProblem(404, 'Not Found', `The named query ${name} has no subscription ${id}.`, {
    type: 'epcisException:NoSuchSubscriptionException',
  });

const validationProblem = (detail: string, errors: Array<{ path: string; message: string }>) =>
  new HttpProblem(400, 'Bad Request', detail, { type: 'epcisException:ValidationException', errors });

/** The caller as the services record them. */
const callerOf = (req: Request) => ({ login: req.user?.login ?? 'unknown', roles: req.user?.roles ?? [] });

/** The paging of a list route: perPage, and the position its token carries (checked by `valid`). */
function listPage(req: Request, valid: (after: string) => boolean) {
  const parsed = listPageSchema.safeParse(req.query);
  if (!parsed.success) throw validationProblem('The query parameters are invalid.', zodProblems(parsed.error));
  let after: string | undefined;
  if (parsed.data.nextPageToken !== undefined) {
    after = Buffer.from(parsed.data.nextPageToken, 'base64url').toString('utf8');
    if (!valid(after))
      throw validationProblem('The nextPageToken is invalid.', [
        { path: 'nextPageToken', message: 'is not a page token this server issued' },
      ]);
  }
  return { perPage: parsed.data.perPage, after };
}

function sendList(req: Request, res: Response, page: { items: unknown[]; more: boolean }, lastKey: (item: never) => string): void {
  res.set(BINDING_HEADERS);
  const last = page.items[page.items.length - 1];
  if (page.more && last !== undefined)
    res.set('Link', nextPageLink(req, Buffer.from(lastKey(last as never), 'utf8').toString('base64url')));
  res.json(page.items);
}

export function epcisSubscriptionRoutes(ctx: ApiContext): Router {
  const routes = declaredRoutes(ctx);
  const R = EPCIS_SUBSCRIPTION_ROUTES;

  routes.add(R.createQuery, async (req, res) => {
    const parsed = namedQueryBodySchema.safeParse(req.body);
    if (!parsed.success) throw validationProblem('The query definition is invalid.', zodProblems(parsed.error));
    const created = await createNamedQuery(ctx, parsed.data, callerOf(req));
    res
      .status(201)
      .location(`/epcis/queries/${encodeURIComponent(created.name)}`)
      .set(BINDING_HEADERS)
      .json(created);
  });

  routes.add(R.listQueries, async (req, res) => {
    const page = listPage(req, (after) => QUERY_NAME.test(after));
    sendList(req, res, await namedQueries(ctx.pool, page), (q: { name: string }) => q.name);
  });

  routes.add(R.getQuery, async (req, res) => {
    const name = queryNameParam(req);
    const query = await namedQuery(ctx.pool, name);
    if (!query) throw noSuchQuery(name);
    res.set(BINDING_HEADERS).json(query.view);
  });

  routes.add(R.deleteQuery, async (req, res) => {
    await deleteNamedQuery(ctx, queryNameParam(req), callerOf(req));
    res.status(204).end();
  });

  routes.add(R.queryEvents, async (req, res) => {
    const type = answerType(req);
    const name = queryNameParam(req);
    const parsed = namedQueryEventsSchema.safeParse(req.query);
    if (!parsed.success)
      throw new HttpProblem(400, 'Bad Request', 'The query parameters are invalid: a named query takes only perPage and nextPageToken.', {
        type: 'epcisException:QueryParameterException',
        errors: zodProblems(parsed.error),
      });
    const query = await namedQuery(ctx.pool, name);
    if (!query) throw noSuchQuery(name);
    const filter = filterOfParams(query.params);
    let after: string | undefined;
    if (parsed.data.nextPageToken !== undefined) {
      const token = decodePageToken(parsed.data.nextPageToken, filter);
      if (!token.ok)
        throw new HttpProblem(400, 'Bad Request', `The nextPageToken ${token.reason}.`, {
          type: 'epcisException:QueryParameterException',
          errors: [{ path: 'nextPageToken', message: token.reason }],
        });
      after = token.after;
    }
    sendPage(req, res, type, await queryEvents(ctx.pool, filter, { perPage: parsed.data.perPage, after }), name);
  });

  routes.add(R.subscribe, async (req, res) => {
    const name = queryNameParam(req);
    const parsed = subscriptionBodySchema.safeParse(req.body);
    if (!parsed.success) throw subscriptionProblem('The subscription is invalid.', zodProblems(parsed.error));
    const created = await createSubscription(ctx, name, parsed.data, callerOf(req));
    res
      .status(201)
      .location(`/epcis/queries/${encodeURIComponent(name)}/subscriptions/${created.subscriptionID}`)
      .set(BINDING_HEADERS)
      .json(created);
  });

  routes.add(R.listSubscriptions, async (req, res) => {
    const name = queryNameParam(req);
    const page = listPage(req, (after) => UUID.test(after));
    if (!(await namedQuery(ctx.pool, name))) throw noSuchQuery(name);
    sendList(req, res, await subscriptions(ctx.pool, name, page), (s: { subscriptionID: string }) => s.subscriptionID);
  });

  routes.add(R.getSubscription, async (req, res) => {
    const name = queryNameParam(req);
    const id = subscriptionIdParam(req, name);
    const found = await subscription(ctx.pool, name, id);
    if (!found) throw noSuchSubscription(name, id);
    res.set(BINDING_HEADERS).json(found);
  });

  routes.add(R.unsubscribe, async (req, res) => {
    const name = queryNameParam(req);
    const id = subscriptionIdParam(req, name);
    if (!(await deleteSubscription(ctx, name, id, callerOf(req)))) throw noSuchSubscription(name, id);
    res.status(204).end();
  });

  return routes.router;
}
