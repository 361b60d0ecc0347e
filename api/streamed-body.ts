import type { Readable } from 'node:stream';
import type { Request, Response } from 'express';
import { isTransactionConflict } from '../db/errors';
import type { AppConfig } from '../lib/config';
import { MalformedBodyError, PayloadTooLargeError } from '../lib/json-list-splitter';
import { HttpProblem } from './problem';

/**
 * Bodies of the streamed routes (EPCIS capture, repository reports), which go straight into a
 * database transaction as they arrive. A connection is taken only once the body has brought its
 * first STREAM_FIRST_BYTES (or ended), so clients that open a request and trickle or send nothing
 * hold sockets, never the pool; and a client from which nothing arrives for the stall timeout is
 * dropped, its transaction rolled back.
 */

/** What a body must bring before a connection is taken: a trickle of a byte a second needs 18 hours. */
export const STREAM_FIRST_BYTES = 64 * 1024;

export class BodyStalledError extends Error {
  constructor(readonly stallMs: number) {
    super(`no data of the request body arrived for ${stallMs} ms`);
  }
}

export class ClientGoneError extends Error {
  constructor() {
    super('the connection closed before the request body was complete');
  }
}

/** Resolves once the stream has data or has ended; rejects when it fails, closes, or stalls. */
function dataOrEnd(stream: Readable, stallMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (err?: Error) => {
      clearTimeout(timer);
      stream.off('readable', onReadable).off('end', onReadable).off('error', onError).off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onReadable = () => settle();
    const onError = (err: Error) => settle(err);
    const onClose = () => settle(new ClientGoneError());
    const timer = setTimeout(() => settle(new BodyStalledError(stallMs)), stallMs);
    stream.on('readable', onReadable).on('end', onReadable).on('error', onError).on('close', onClose);
  });
}

/**
 * The stream's chunks, pulled with read() rather than its async iterator: leaving the iterator
 * early destroys the socket, and a route that refuses a body part-way (413) still answers.
 */
async function* chunksOf(stream: Readable, stallMs: number): AsyncGenerator<Buffer> {
  for (;;) {
    const chunk = stream.read() as Buffer | string | null;
    if (chunk !== null) {
      yield typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      continue;
    }
    if (stream.readableEnded) return;
    if (stream.destroyed) throw new ClientGoneError();
    await dataOrEnd(stream, stallMs);
  }
}

/**
 * Waits for the body's first STREAM_FIRST_BYTES (or its end), then gives the whole body as chunks.
 * Call it before taking a database connection; every later wait for data is bounded by `stallMs`
 * too, and a stall surfaces as a BodyStalledError from the iteration (the consumer rolls back).
 */
export async function streamedBody(stream: Readable, stallMs: number): Promise<AsyncIterable<Buffer>> {
  const chunks = chunksOf(stream, stallMs);
  const head: Buffer[] = [];
  let size = 0;
  let ended = false;
  while (size < STREAM_FIRST_BYTES) {
    const next = await chunks.next();
    if (next.done) {
      ended = true;
      break;
    }
    head.push(next.value);
    size += next.value.length;
  }
  return (async function* () {
    // (shifted, so the first bytes are not kept for the length of the request)
    while (head.length) yield head.shift()!;
    if (!ended) yield* chunks;
  })();
}

/** The answer to a streamed body that stalled or went away, or null for any other error. */
export function streamProblem(err: unknown, res: Response): HttpProblem | null {
  if (err instanceof BodyStalledError) {
    res.set('Connection', 'close');
    return new HttpProblem(
      408,
      'Request Timeout',
      `No data arrived for ${err.stallMs} ms; the request was dropped and nothing of it was stored.`,
    );
  }
  if (err instanceof ClientGoneError) {
    return new HttpProblem(400, 'Bad Request', 'The connection closed before the body was complete; nothing of it was stored.');
  }
  return null;
}

/**
 * Streamed uploads that hold a database connection at once, per API process. A client that has
 * sent its first bytes holds its connection for as long as it keeps sending, a byte just inside
 * every stall timeout if it likes; bounding how many may do so keeps the rest of the pool for
 * sign-in, signatures and /health. Past the bound, an upload is answered 503 with Retry-After
 * before it takes a connection (the import command sends it again).
 */
const slotsInUse = new WeakMap<object, { used: number }>();

export function takeUploadSlot(owner: object, max: number, res: Response): () => void {
  const slots = slotsInUse.get(owner) ?? { used: 0 };
  slotsInUse.set(owner, slots);
  if (slots.used >= max) {
    res.set('Retry-After', String(UPLOAD_RETRY_AFTER_S));
    res.set('Connection', 'close');
    throw new HttpProblem(
      503,
      'Service Unavailable',
      `${max} uploads are being stored right now; send this one again in a moment. Nothing of it was stored.`,
    );
  }
  slots.used += 1;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    slots.used -= 1;
  };
}
const UPLOAD_RETRY_AFTER_S = 5;

/** What differs between the streamed routes: the media types they take and how they word refusals. */
export interface StreamedUpload {
  /** Whether the route takes a body of this media type (lower case, without its parameters). */
  accepts(mediaType: string): boolean;
  /** The 415's detail: the media types the route takes. */
  unsupportedMediaType: string;
  /** The 413 for a body over `limit` bytes. */
  tooLarge(limit: number): HttpProblem;
  /** The 400 for a body that is not JSON of the expected shape (or not UTF-8). */
  malformed(err: MalformedBodyError): HttpProblem;
  /** The 503's detail when the upload collided with another transaction and was rolled back. */
  collided: string;
}

/**
 * Receives a streamed upload (EPCIS capture, repository reports) and hands its body to `store`,
 * which writes it to the database as it arrives; every way such an upload is refused is answered
 * here, the same for each route. A wrong media type is 415 and a declared length over the limit is
 * 413, before a byte is read. A connection is taken only once the body's first bytes have arrived
 * (streamedBody) and while one of the process's upload slots is free (503 with Retry-After when
 * none is). A body that stalls is dropped (408), one that goes away is 400, one that passes the
 * limit as it arrives is 413, one that is not JSON of the expected shape is 400; and a
 * transaction rolled back because of another under way (a deadlock) is 503 with Retry-After:
 * nothing was stored, and the same upload may be sent again.
 */
export async function receiveStreamedUpload<T>(
  ctx: { config: Pick<AppConfig, 'MAX_BODY_BYTES' | 'BODY_STALL_TIMEOUT_MS' | 'STREAMED_UPLOADS_MAX'> },
  req: Request,
  res: Response,
  upload: StreamedUpload,
  store: (body: AsyncIterable<Buffer>) => Promise<T>,
): Promise<T> {
  const type = (req.get('Content-Type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (!upload.accepts(type)) throw new HttpProblem(415, 'Unsupported Media Type', upload.unsupportedMediaType);
  const declared = Number(req.get('Content-Length'));
  if (Number.isFinite(declared) && declared > ctx.config.MAX_BODY_BYTES) {
    res.set('Connection', 'close');
    throw upload.tooLarge(ctx.config.MAX_BODY_BYTES);
  }
  let releaseSlot = () => undefined as void;
  try {
    const body = await streamedBody(req, ctx.config.BODY_STALL_TIMEOUT_MS);
    releaseSlot = takeUploadSlot(ctx, ctx.config.STREAMED_UPLOADS_MAX, res);
    return await store(body);
  } catch (err) {
    const dropped = streamProblem(err, res);
    if (dropped) throw dropped;
    if (err instanceof PayloadTooLargeError) {
      res.set('Connection', 'close');
      throw upload.tooLarge(err.limit);
    }
    if (err instanceof MalformedBodyError) throw upload.malformed(err);
    if (isTransactionConflict(err)) {
      // The transaction is whole or absent, and a re-sent upload is not applied twice: sending it again is safe.
      res.set('Retry-After', '1');
      throw new HttpProblem(503, 'Service Unavailable', upload.collided);
    }
    throw err;
  } finally {
    releaseSlot();
  }
}
