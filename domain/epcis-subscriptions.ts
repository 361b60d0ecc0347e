import { z } from 'zod';
import { eventQuerySchema, MAX_LIST_VALUES, PER_PAGE_DEFAULT, PER_PAGE_MAX } from './epcis-query';
import { isoDateTime } from './iso-time';
import { READER_ROLES, type Role } from './roles';
import { safeString } from './text';

/**
 * Named queries and webhook subscriptions of the EPCIS 2.0 REST binding (POST /queries,
 * POST /queries/{queryName}/subscriptions), under the product's /epcis base. A named query holds the
 * same parameters GET /epcis/events takes, checked by the same schema (domain/epcis-query.ts); a
 * subscription streams each event the query matches, once, to a webhook.
 */

/** Who may read named queries and their events: whoever reads the query interface. */
export const NAMED_QUERY_READERS: readonly Role[] = [...READER_ROLES, 'integration'];

/**
 * Who may define and remove named queries: the machine clients, IT, and the people who investigate
 * with the query interface. Auditors read, and change nothing.
 */
export const NAMED_QUERY_AUTHORS = ['integration', 'it', 'investigator', 'qa_lead', 'qa_head'] as const satisfies readonly Role[];

/**
 * Who may subscribe and unsubscribe. A subscription sends the company's serialization data to a URL
 * outside the product, without end: an interface, decided by IT (under its change control) or set up
 * by a partner's system through its own integration key, not an investigation's tool.
 */
export const SUBSCRIPTION_MANAGERS = ['integration', 'it'] as const satisfies readonly Role[];

/** Who may see the subscriptions (where data goes): their managers, the head of QA and auditors. */
export const SUBSCRIPTION_READERS = [...SUBSCRIPTION_MANAGERS, 'qa_head', 'auditor'] as const satisfies readonly Role[];

/** A query's name: URL-safe, since it is a path segment (/epcis/queries/{queryName}). */
export const QUERY_NAME = /^[A-Za-z0-9][A-Za-z0-9._~-]{0,99}$/;
export const queryNameSchema = safeString().regex(
  QUERY_NAME,
  '1 to 100 letters, digits, ".", "_", "~" or "-", starting with a letter or digit',
);

/** The parameters of GET /epcis/events a named query may hold: all but paging. */
const { perPage: _perPage, nextPageToken: _nextPageToken, ...FILTER_SHAPE } = eventQuerySchema.shape;
export type FilterParam = keyof typeof FILTER_SHAPE;
export const FILTER_PARAMS = Object.keys(FILTER_SHAPE) as FilterParam[];
/** The parameters that take one value; every other takes a list. */
const SINGLE_VALUED = new Set<string>(['GE_eventTime', 'LT_eventTime', 'GE_recordTime', 'LT_recordTime', 'EXISTS_errorDeclaration']);

/**
 * A parameter's value in the JSON body: a list (`["shipping", "receiving"]`, as the binding's query
 * schema writes them) or the query string's pipe-delimited text.
 */
const paramValue = z.union([
  safeString().max(8000),
  z
    .array(
      safeString()
        .min(1)
        .max(2000)
        .refine((v) => !v.includes('|'), 'a value cannot contain |'),
    )
    .min(1)
    .max(MAX_LIST_VALUES),
]);

/** The parameters as GET /epcis/events would take them in its query string. */
export function queryStringOf(query: Partial<Record<string, string | string[]>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(query)) if (value !== undefined) out[name] = Array.isArray(value) ? value.join('|') : value;
  return out;
}

/** The stored parameters as the binding shows a query: lists as arrays. */
export function queryJsonOf(params: Record<string, string>): Record<string, string | string[]> {
  return Object.fromEntries(Object.entries(params).map(([name, v]) => [name, SINGLE_VALUED.has(name) ? v : v.split('|')]));
}

const queryParams = z
  .object(
    Object.fromEntries(FILTER_PARAMS.map((name) => [name, paramValue.optional()])) as Record<FilterParam, z.ZodOptional<typeof paramValue>>,
  )
  .strict()
  .superRefine((query, ctx) => {
    // The same schema as GET /epcis/events: a named query cannot hold what the events route refuses.
    const parsed = eventQuerySchema.safeParse(queryStringOf(query));
    if (!parsed.success)
      for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
  });

/** POST /epcis/queries: the binding's QueryDefinition. */
export const namedQueryBodySchema = z.object({ name: queryNameSchema, query: queryParams }).strict();
export type NamedQueryBody = z.infer<typeof namedQueryBodySchema>;

/** The cron-like fields of a scheduled subscription (the binding's QueryScheduleSubscription). */
const scheduleField = safeString().max(200).optional();
const scheduleSchema = z
  .object({
    second: scheduleField,
    minute: scheduleField,
    hour: scheduleField,
    dayOfMonth: scheduleField,
    month: scheduleField,
    dayOfWeek: scheduleField,
  })
  .strict();

/** A webhook URL, before the configuration's checks (epcis/webhook-destination.ts): http(s), no credentials, no fragment. */
export const destSchema = safeString()
  .min(1)
  .max(2000)
  .superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be an absolute URL' });
      return;
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') ctx.addIssue({ code: 'custom', message: 'must be an https URL' });
    // (answers and the audit trail show dest: a password in it would be shown to every reader)
    if (url.username || url.password) ctx.addIssue({ code: 'custom', message: 'must not carry a user name or password' });
    if (url.hash) ctx.addIssue({ code: 'custom', message: 'must not carry a fragment (#…)' });
  });

/**
 * POST /epcis/queries/{queryName}/subscriptions: the binding's body. Streaming only: a schedule, and
 * reportIfEmpty (which only a schedule gives meaning), are refused rather than ignored, so that a
 * client expecting its 1.05 am report learns at once it will not come.
 */
export const subscriptionBodySchema = z
  .object({
    dest: destSchema,
    /** The client's secret: each delivery carries the HMAC-SHA256 of its body under it (GS1-Signature). */
    signatureToken: safeString().min(16).max(1000).optional(),
    /** Events recorded from this time on are delivered; the default is the subscription's creation. */
    initialRecordTime: isoDateTime.optional(),
    stream: z.literal(true).optional(),
    schedule: scheduleSchema.optional(),
    reportIfEmpty: z.boolean().optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.schedule !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['schedule'],
        message: 'scheduled subscriptions are not supported: subscribe with "stream": true',
      });
    else if (body.stream !== true)
      ctx.addIssue({
        code: 'custom',
        path: ['stream'],
        message: 'must be true: events are delivered as they are captured (schedules are not supported)',
      });
    if (body.reportIfEmpty === true)
      ctx.addIssue({ code: 'custom', path: ['reportIfEmpty'], message: 'applies to scheduled subscriptions, which are not supported' });
  });
export type SubscriptionBody = z.infer<typeof subscriptionBodySchema>;

/** The list routes' paging (GET /epcis/queries, GET …/subscriptions): perPage, and the token of the Link header. */
export const listPageSchema = z
  .object({
    perPage: z.coerce.number().int().min(1).max(PER_PAGE_MAX).default(PER_PAGE_DEFAULT),
    nextPageToken: safeString()
      .regex(/^[A-Za-z0-9_-]{1,512}$/, 'is not a page token this server issued')
      .optional(),
  })
  .strict();

/** GET /epcis/queries/{queryName}/events: the query is the named one; only paging is given. */
export const namedQueryEventsSchema = z
  .object({
    perPage: eventQuerySchema.shape.perPage,
    nextPageToken: eventQuerySchema.shape.nextPageToken,
  })
  .strict();

/** A named query as the API shows it (the binding's QueryDefinition, with who made it and when). */
export const namedQueryViewSchema = z.object({
  name: z.string(),
  query: z.record(z.string(), z.union([z.string(), z.array(z.string())])),
  createdBy: z.string(),
  createdAt: z.string(),
});
export type NamedQueryView = z.infer<typeof namedQueryViewSchema>;

/** A subscription as the API shows it: never its signatureToken, only whether it has one. */
export const subscriptionViewSchema = z.object({
  subscriptionID: z.string(),
  queryName: z.string(),
  dest: z.string(),
  stream: z.literal(true),
  signed: z.boolean(),
  initialRecordTime: z.string(),
  createdAt: z.string(),
  createdBy: z.string(),
  lastNotifiedAt: z.string().nullable(),
  deliveredEvents: z.number(),
  delivery: z.object({
    attempts: z.number(),
    nextAttemptAt: z.string(),
    lastError: z.string().nullable(),
  }),
});
export type SubscriptionView = z.infer<typeof subscriptionViewSchema>;
