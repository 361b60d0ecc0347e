import type { Request, Response, Router } from 'express';
import { listsNamingSql } from '../../db/identifier-events';
import { eventFilterOf, eventQuerySchema, identifierKeyOf, MATCH_ROLES, type IdentifierKey } from '../../domain/epcis-query';
import { READER_ROLES, type Role } from '../../domain/roles';
import { isStorableText } from '../../domain/text';
import { decodePageToken, findEvent, queryDocument, queryEvents, type EventPage } from '../../epcis/query';
import { queryDocumentXml } from '../../epcis/xml/writer';
import { NotRepresentableInXml } from '../../lib/xml-writer';
import { traceIdentifier } from '../../reconciliation/trace';
import type { ApiContext } from '../context';
import { HttpProblem, zodProblems } from '../problem';
import { declaredRoutes, type RouteSpec } from '../route';

/**
 * The EPCIS 2.0 query interface, REST binding (GET /events, /events/{eventID}, /epcs/{epc}/events,
 * under the same /epcis base as capture), and the trace of a unit, case or pallet (GET /trace/{epc}).
 * Reads only. Identifiers in the path are percent-encoded (a Digital Link's slashes as %2F).
 */

/** What the query routes answer in: EPCIS 2.0 JSON-LD (the default, first) or EPCIS 2.0 XML. */
export const QUERY_MEDIA_TYPES = ['application/json', 'application/ld+json', 'application/xml', 'text/xml'] as const;

/** People who read (every role but the machine one), and machine clients of the EPCIS interface. */
const EPCIS_READERS: Role[] = [...READER_ROLES, 'integration'];

export const EPCIS_QUERY_ROUTES = {
  events: {
    method: 'get',
    path: '/epcis/events',
    produces: QUERY_MEDIA_TYPES,
    summary:
      'EPCIS 2.0 query (REST binding): the captured events matching the EPCIS query parameters, as an EPCISQueryDocument, perPage at a time in record order; the next page in the Link header (rel="next")',
    access: 'capture',
    roles: EPCIS_READERS,
    query: eventQuerySchema,
  },
  event: {
    method: 'get',
    path: '/epcis/events/:eventID',
    produces: QUERY_MEDIA_TYPES,
    summary: 'One captured event by its eventID (percent-encoded), as an EPCISQueryDocument; a retracted one with its errorDeclaration',
    access: 'capture',
    roles: EPCIS_READERS,
  },
  epcEvents: {
    method: 'get',
    path: '/epcis/epcs/:epc/events',
    produces: QUERY_MEDIA_TYPES,
    summary:
      'The events naming an identifier (SGTIN or SSCC as EPC URN or GS1 Digital Link, percent-encoded; any other URI as written) in any role, further filtered by the query parameters',
    access: 'capture',
    roles: EPCIS_READERS,
    query: eventQuerySchema,
  },
  trace: {
    method: 'get',
    path: '/trace/:epc',
    summary:
      'Trace of a unit, case or pallet: commissioning, what it was packed in and held at each time, shipments and receipts with their parties, current status, holds, containment flags and deviations naming its lots',
    roles: READER_ROLES,
  },
} satisfies Record<string, RouteSpec>;

/** The binding's headers on every answer of the query interface. */
export const BINDING_HEADERS = {
  'GS1-EPCIS-Version': '2.0.0',
  'GS1-CBV-Version': '2.0.0',
  // Identifiers are given back as they were captured.
  'GS1-EPC-Format': 'Never_Translates',
};

const queryProblem = (detail: string, errors: Array<{ path: string; message: string }>) =>
  new HttpProblem(400, 'Bad Request', detail, { type: 'epcisException:QueryParameterException', errors });

const noSuchResource = (detail: string) => new HttpProblem(404, 'Not Found', detail, { type: 'epcisException:NoSuchResourceException' });

/** A path segment, decoded by the router: storable text of bounded length, or a 400 naming it. */
function pathValue(req: Request, name: string, max = 2000): string {
  const value = String(req.params[name] ?? '');
  if (!isStorableText(value, false) || value.length === 0 || value.length > max)
    throw queryProblem(`The ${name} in the path is invalid.`, [
      { path: name, message: `must be 1 to ${max} characters without control characters (percent-encode the URI)` },
    ]);
  return value;
}

function pathIdentifier(req: Request): { input: string; key: IdentifierKey } {
  const input = pathValue(req, 'epc');
  const r = identifierKeyOf(input);
  if (!r.ok) throw queryProblem('The identifier in the path is invalid.', [{ path: 'epc', message: r.reason }]);
  return { input, key: r.key };
}

/** The validated filter and page of a query request (a 400 QueryParameterException naming each bad parameter). */
function parseQuery(req: Request, pathEpc?: IdentifierKey) {
  const parsed = eventQuerySchema.safeParse(req.query);
  if (!parsed.success) throw queryProblem('The query parameters are invalid.', zodProblems(parsed.error));
  const filter = eventFilterOf(parsed.data, pathEpc);
  let after: string | undefined;
  if (parsed.data.nextPageToken !== undefined) {
    const token = decodePageToken(parsed.data.nextPageToken, filter);
    if (!token.ok) throw queryProblem(`The nextPageToken ${token.reason}.`, [{ path: 'nextPageToken', message: token.reason }]);
    after = token.after;
  }
  return { filter, perPage: parsed.data.perPage, after };
}

/** The URL of the next page: this request's own, with the token of the next page (RFC 8288 Link, relative to the request). */
export function nextPageLink(req: Request, token: string): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(req.query)) {
    if (name === 'nextPageToken') continue;
    for (const v of Array.isArray(value) ? value : [value]) params.append(name, String(v));
  }
  params.set('nextPageToken', token);
  return `<${req.baseUrl}${req.path}?${params.toString().replace(/%7C/gi, '|')}>; rel="next"`;
}

/**
 * The media type of the answer the request accepts, or a 406 naming those the route serves. Asked
 * before the database is read: a client that cannot take the answer gets nothing else.
 */
export function answerType(req: Request): (typeof QUERY_MEDIA_TYPES)[number] {
  const type = req.accepts([...QUERY_MEDIA_TYPES]);
  if (!type)
    throw new HttpProblem(406, 'Not Acceptable', `The query interface answers in ${QUERY_MEDIA_TYPES.join(', ')}.`, {
      accepted: QUERY_MEDIA_TYPES,
    });
  return type as (typeof QUERY_MEDIA_TYPES)[number];
}

function sendDocument(
  res: Response,
  type: ReturnType<typeof answerType>,
  page: Omit<EventPage, 'nextPageToken'>,
  queryName?: string,
): void {
  res.set(BINDING_HEADERS).vary('Accept');
  if (type === 'application/xml' || type === 'text/xml') {
    let xml: string;
    try {
      xml = queryDocumentXml({ ...page, ...(queryName === undefined ? {} : { queryName }) }, new Date());
    } catch (err) {
      if (err instanceof NotRepresentableInXml)
        throw new HttpProblem(406, 'Not Acceptable', `These events cannot be given as XML (${err.message}); ask for application/json.`);
      throw err;
    }
    res.type(`${type}; charset=utf-8`).send(xml);
  } else res.type(type).json(queryDocument(page, new Date(), queryName));
}

/** A page of events in the answer type, the next page's link in the Link header; `queryName` for a named query's page. */
export function sendPage(req: Request, res: Response, type: ReturnType<typeof answerType>, page: EventPage, queryName?: string): void {
  if (page.nextPageToken) res.set('Link', nextPageLink(req, page.nextPageToken));
  sendDocument(res, type, page, queryName);
}

export function epcisQueryRoutes(ctx: ApiContext): Router {
  const routes = declaredRoutes(ctx);

  routes.add(EPCIS_QUERY_ROUTES.events, async (req, res) => {
    const type = answerType(req);
    const { filter, perPage, after } = parseQuery(req);
    sendPage(req, res, type, await queryEvents(ctx.pool, filter, { perPage, after }));
  });

  routes.add(EPCIS_QUERY_ROUTES.event, async (req, res) => {
    const type = answerType(req);
    const eventId = pathValue(req, 'eventID');
    const page = await findEvent(ctx.pool, eventId);
    if (!page) throw noSuchResource(`No captured event has the eventID ${eventId}.`);
    sendDocument(res, type, page);
  });

  routes.add(EPCIS_QUERY_ROUTES.epcEvents, async (req, res) => {
    const type = answerType(req);
    const { input, key } = pathIdentifier(req);
    const { filter, perPage, after } = parseQuery(req, key);
    const page = await queryEvents(ctx.pool, filter, { perPage, after });
    if (page.events.length === 0 && after === undefined && !(await isNamed(ctx, key)))
      throw noSuchResource(`No captured event names ${input}.`);
    sendPage(req, res, type, page);
  });

  routes.add(EPCIS_QUERY_ROUTES.trace, async (req, res) => {
    const { input, key } = pathIdentifier(req);
    const trace = await traceIdentifier(ctx.pool, input, key);
    if (!trace) throw noSuchResource(`No captured event names ${input}.`);
    res.json(trace);
  });

  return routes.router;
}

/** Whether any captured event names the identifier at all (an identifier never seen is a 404, not an empty page). */
async function isNamed(ctx: ApiContext, key: IdentifierKey): Promise<boolean> {
  const params: unknown[] = [];
  const sql = await listsNamingSql(ctx.pool, key, MATCH_ROLES.MATCH_anyEPC, params);
  const { rows } = await ctx.pool.query(`SELECT 1 FROM (${sql}) n LIMIT 1`, params);
  return rows.length > 0;
}
