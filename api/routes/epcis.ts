import { Router } from 'express';
import { auditApiCalls } from '../../audit/middleware';
import { isTransactionConflict } from '../../db/errors';
import { captureDocument, PayloadTooLargeError } from '../../epcis/capture';
import { MalformedBodyError } from '../../lib/json-list-splitter';
import { requireCaptureAccess } from '../capture-auth';
import type { ApiContext } from '../context';
import { HttpProblem, notFound } from '../problem';
import { streamedBody, streamProblem, takeUploadSlot } from '../streamed-body';

/** Headers of the EPCIS 2.0 REST binding that describe this capture interface. */
function bindingHeaders(ctx: ApiContext): Record<string, string> {
  return {
    'GS1-EPCIS-Version': '2.0.0',
    'GS1-CBV-Version': '2.0.0',
    'GS1-EPCIS-Capture-File-Size-Limit': String(ctx.config.MAX_BODY_BYTES),
    'GS1-Capture-Error-Behaviour': 'rollback',
  };
}

const tooLarge = (limit: number) =>
  new HttpProblem(413, 'Capture Payload too large', `The document exceeds the capture limit of ${limit} bytes; split it into several captures.`, {
    type: 'epcisException:CaptureLimitExceededException',
  });

/**
 * EPCIS 2.0 capture (REST binding: POST /capture). The body is streamed, not parsed by the JSON
 * body parser, so this router is mounted before it. The caller is authenticated before a byte of
 * the body is read, and a database connection is taken only once the body's first bytes have
 * arrived; a body that stalls is dropped (408) with nothing stored. Validation is all-or-nothing:
 * 400 problem+json listing every problem (event index, field, reason), or 202 with the capture
 * job's Location.
 */
export function epcisRoutes(ctx: ApiContext): Router {
  const router = Router();
  const access = requireCaptureAccess(ctx);
  const audit = auditApiCalls(ctx);

  router.options('/epcis/capture', access, (_req, res) => {
    res.set({ ...bindingHeaders(ctx), Allow: 'OPTIONS, POST' }).status(204).end();
  });

  router.post('/epcis/capture', access, audit, async (req, res) => {
    const type = (req.get('Content-Type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json' && type !== 'application/ld+json') {
      throw new HttpProblem(415, 'Unsupported Media Type', 'Send the EPCISDocument as application/json or application/ld+json.');
    }
    const declared = Number(req.get('Content-Length'));
    if (Number.isFinite(declared) && declared > ctx.config.MAX_BODY_BYTES) {
      res.set('Connection', 'close');
      throw tooLarge(ctx.config.MAX_BODY_BYTES);
    }
    let result;
    let releaseSlot = () => undefined as void;
    try {
      const body = await streamedBody(req, ctx.config.BODY_STALL_TIMEOUT_MS);
      releaseSlot = takeUploadSlot(ctx, ctx.config.STREAMED_UPLOADS_MAX, res);
      result = await captureDocument(ctx.pool, body, {
        maxBytes: ctx.config.MAX_BODY_BYTES,
        capturedBy: req.user?.login ?? 'unknown',
        mayRetract: req.user?.roles.includes('integration') ?? false,
      });
    } catch (err) {
      const dropped = streamProblem(err, res);
      if (dropped) throw dropped;
      if (err instanceof PayloadTooLargeError) {
        res.set('Connection', 'close');
        throw tooLarge(err.limit);
      }
      if (err instanceof MalformedBodyError) {
        throw new HttpProblem(400, 'Bad Request', `The body is not a well-formed EPCIS document: ${err.message} (byte ${err.offset}).`, {
          type: 'epcisException:ValidationException',
          errors: [{ field: '(document)', reason: err.message }],
        });
      }
      if (isTransactionConflict(err)) {
        // Captures lock units in one order, so this takes another writer that does not (an instance
        // of an older release during a rolling deploy, a hand-run statement). The document is whole
        // or absent, and a re-sent event is not applied twice: sending it again is safe.
        res.set('Retry-After', '1');
        throw new HttpProblem(
          503,
          'Service Unavailable',
          'The capture collided with another transaction under way and was rolled back; nothing was stored. Send the same document again.',
        );
      }
      throw err;
    } finally {
      releaseSlot();
    }
    if (!result.ok) {
      throw new HttpProblem(400, 'Bad Request', `The document was refused whole: ${result.totalProblems} problem(s); nothing was stored.`, {
        type: 'epcisException:ValidationException',
        events: result.events,
        totalProblems: result.totalProblems,
        errors: result.problems,
      });
    }
    res
      .status(202)
      .set(bindingHeaders(ctx))
      .location(`/epcis/capture/${result.captureId}`)
      .json(captureJob(result));
  });

  router.get('/epcis/capture/:captureId', access, async (req, res) => {
    const captureId = String(req.params.captureId);
    const m = /^C(\d{1,18})$/.exec(captureId);
    if (!m) throw notFound(`No capture job ${captureId}.`);
    const { rows } = await ctx.pool.query<{ id: string; sha256: string; event_count: number; new_events: number; captured_at: Date }>(
      'SELECT id, sha256, event_count, new_events, captured_at FROM epcis_documents WHERE id = $1',
      [m[1]],
    );
    const row = rows[0];
    if (!row) throw notFound(`No capture job ${captureId}.`);
    res.set(bindingHeaders(ctx)).json(
      captureJob({
        captureId,
        documentId: row.id,
        sha256: row.sha256,
        events: row.event_count,
        newEvents: row.new_events,
        duplicateDocument: false,
        capturedAt: row.captured_at.toISOString(),
      }),
    );
  });

  return router;
}

/** The capture job document of the REST binding; capture here is synchronous, so the job is finished. */
function captureJob(r: { captureId: string; documentId: string; sha256: string; events: number; newEvents: number; duplicateDocument: boolean; capturedAt: string; identifiers?: number }) {
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
