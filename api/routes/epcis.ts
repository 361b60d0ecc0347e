import type { Request, Router } from 'express';
import { auditApiCalls } from '../../audit/middleware';
import { detectHoldBreaches, startHoldBreachDelivery } from '../../containment/hold-breaches';
import { CAPTURE_ROLES } from '../../domain/roles';
import { captureDocument, findCapturedDocument } from '../../epcis/capture';
import type { DocumentFormat } from '../../epcis/document-reader';
import type { ApiContext } from '../context';
import { HttpProblem, notFound } from '../problem';
import { declaredRoutes, type RouteSpec } from '../route';
import { receiveStreamedUpload, type StreamedUpload } from '../streamed-body';

/** Headers of the EPCIS 2.0 REST binding that describe this capture interface. */
function bindingHeaders(ctx: ApiContext): Record<string, string> {
  return {
    'GS1-EPCIS-Version': '2.0.0',
    'GS1-CBV-Version': '2.0.0',
    'GS1-EPCIS-Capture-File-Size-Limit': String(ctx.config.MAX_BODY_BYTES),
    'GS1-Capture-Error-Behaviour': 'rollback',
  };
}

/** The media types capture takes, and the syntax each is read as. */
const CAPTURE_FORMATS: Record<string, DocumentFormat> = {
  'application/json': 'json',
  'application/ld+json': 'json',
  'application/xml': 'xml',
  'text/xml': 'xml',
};

const mediaTypeOf = (req: Request) => (req.get('Content-Type') ?? '').split(';')[0]!.trim().toLowerCase();

/** How capture refuses a document, in the words of the EPCIS REST binding. */
const CAPTURE_UPLOAD: StreamedUpload = {
  accepts: (type) => Object.hasOwn(CAPTURE_FORMATS, type),
  unsupportedMediaType:
    'Send the EPCISDocument as EPCIS 2.0 JSON (application/json, application/ld+json) or as EPCIS 1.2/2.0 XML (application/xml, text/xml).',
  tooLarge: (limit) =>
    new HttpProblem(
      413,
      'Capture Payload too large',
      `The document exceeds the capture limit of ${limit} bytes; split it into several captures.`,
      {
        type: 'epcisException:CaptureLimitExceededException',
      },
    ),
  malformed: (err) =>
    new HttpProblem(400, 'Bad Request', `The body is not a well-formed EPCIS document: ${err.message} (byte ${err.offset}).`, {
      type: 'epcisException:ValidationException',
      errors: [{ field: '(document)', reason: err.message }],
    }),
  // Captures lock units in one order, so this takes another writer that does not (an instance of an
  // older release during a rolling deploy, a hand-run statement). A re-sent event is not applied twice.
  collided:
    'The capture collided with another transaction under way and was rolled back; nothing was stored. Send the same document again.',
};

export const EPCIS_ROUTES = {
  options: {
    method: 'options',
    path: '/epcis/capture',
    summary: 'EPCIS REST binding capabilities',
    access: 'capture',
    roles: CAPTURE_ROLES,
  },
  capture: {
    method: 'post',
    path: '/epcis/capture',
    summary:
      'Capture an EPCIS document: 2.0 JSON(-LD), or 1.2/2.0 XML (with or without SBDH, or in a SOAP envelope); validated whole, all or nothing, each problem by event and (XML) element; 503 with Retry-After when it collided with another transaction and may be sent again',
    access: 'capture',
    roles: CAPTURE_ROLES,
    produces: 'application/json',
    consumes: Object.keys(CAPTURE_FORMATS),
  },
  job: { method: 'get', path: '/epcis/capture/:captureId', summary: 'A capture job', access: 'capture', roles: CAPTURE_ROLES },
} satisfies Record<string, RouteSpec>;

/**
 * EPCIS capture (REST binding: POST /capture), of EPCIS 2.0 JSON and of EPCIS 1.2/2.0 XML, by
 * Content-Type; both are read into the same events (epcis/document-reader.ts). The body is streamed, not parsed by the JSON
 * body parser, so this router is mounted before it. The caller is authenticated before a byte of
 * the body is read, and a database connection is taken only once the body's first bytes have
 * arrived; a body that stalls is dropped (408) with nothing stored (api/streamed-body.ts).
 * Validation is all-or-nothing: 400 problem+json listing every problem (event index, field,
 * reason), or 202 with the capture job's Location.
 *
 * A shipping or receiving event for product of a batch on hold is stored like any other; its
 * breach and alert are written in the capture's transaction (containment/hold-breaches.ts), and the
 * deviation's workflow is signalled once that has committed. Signals waiting are delivered when the
 * API starts and after every capture (and retried while Temporal does not answer): a breach an API
 * process committed and died before signalling is delivered when it is started again, or by the
 * next capture of any API process, whichever comes first.
 */
export function epcisRoutes(ctx: ApiContext): Router {
  const routes = declaredRoutes(ctx);
  const audit = auditApiCalls(ctx);
  const breaches = startHoldBreachDelivery(ctx.pool, ctx.temporal, ctx.log);

  routes.add(EPCIS_ROUTES.options, (_req, res) => {
    res
      .set({ ...bindingHeaders(ctx), Allow: 'OPTIONS, POST' })
      .status(204)
      .end();
  });

  routes.add(EPCIS_ROUTES.capture, audit, async (req, res) => {
    const result = await receiveStreamedUpload(ctx, req, res, CAPTURE_UPLOAD, (body) =>
      captureDocument(ctx.pool, body, {
        maxBytes: ctx.config.MAX_BODY_BYTES,
        format: CAPTURE_FORMATS[mediaTypeOf(req)],
        capturedBy: req.user?.login ?? 'unknown',
        mayRetract: req.user?.roles.includes('integration') ?? false,
        alsoInTransaction: detectHoldBreaches,
      }),
    );
    if (!result.ok) {
      throw new HttpProblem(400, 'Bad Request', `The document was refused whole: ${result.totalProblems} problem(s); nothing was stored.`, {
        type: 'epcisException:ValidationException',
        events: result.events,
        totalProblems: result.totalProblems,
        errors: result.problems,
      });
    }
    res.status(202).set(bindingHeaders(ctx)).location(`/epcis/capture/${result.captureId}`).json(captureJob(result));
    breaches.now();
  });

  routes.add(EPCIS_ROUTES.job, async (req, res) => {
    const captureId = String(req.params.captureId);
    const m = /^C(\d{1,18})$/.exec(captureId);
    if (!m) throw notFound(`No capture job ${captureId}.`);
    const document = await findCapturedDocument(ctx.pool, m[1]!);
    if (!document) throw notFound(`No capture job ${captureId}.`);
    res.set(bindingHeaders(ctx)).json(captureJob({ captureId, ...document, duplicateDocument: false }));
  });

  return routes.router;
}

/** The capture job document of the REST binding; capture here is synchronous, so the job is finished. */
function captureJob(r: {
  captureId: string;
  documentId: string;
  sha256: string;
  events: number;
  newEvents: number;
  duplicateDocument: boolean;
  capturedAt: string;
  identifiers?: number;
}) {
  return {
    captureID: r.captureId,
    running: false,
    success: true,
    captureErrorBehaviour: 'rollback',
    errors: [],
    createdAt: r.capturedAt,
    finishedAt: r.capturedAt,
    documentSha256: r.sha256,
    events: r.events,
    newEvents: r.newEvents,
    duplicateDocument: r.duplicateDocument,
    ...(r.identifiers !== undefined ? { identifiers: r.identifiers } : {}),
  };
}
