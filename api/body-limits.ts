import type { Request, RequestHandler, Response } from 'express';
import { badRequest, HttpProblem } from './problem';
import { BACKSLASH, CLOSE_ARRAY, CLOSE_OBJECT, OPEN_ARRAY, OPEN_OBJECT, QUOTE } from '../lib/json-bytes';

/**
 * The JSON body parser of every route but the streamed ones (EPCIS capture and repository
 * reports, which read their own bodies). Size, time and nesting are checked here, before any
 * handler or the audit middleware sees the body: a body is refused before it costs memory
 * (a declared length over the limit is refused without reading a byte of it), and code that walks
 * a parsed body (canonical JSON for the audit trail) never meets one deeper than it can walk.
 */

/** No request of this API but the streamed ones comes near this (a deviation with its text is a few KiB). */
export const JSON_BODY_MAX_BYTES = 1024 * 1024;
/** Request bodies nest a few levels; walking code recurses once per level, so this is generous and safe. */
export const JSON_MAX_DEPTH = 64;
/** A body of at most 1 MiB that takes longer than this to arrive is a client holding the connection. */
const JSON_BODY_DEADLINE_MS = 60_000;

const JSON_TYPES = ['application/json', 'application/*+json'];

/**
 * Whether JSON text nests arrays and objects deeper than `limit`, found by counting brackets
 * outside strings: no parse, no recursion, so a body of 20,000 brackets costs one pass.
 */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > limit) return true;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) depth--;
  }
  return false;
}

const tooLarge = (limit: number) =>
  new HttpProblem(413, 'Content Too Large', `The request body exceeds the limit of ${limit} bytes for this route.`);
const tooSlow = (detail: string) => new HttpProblem(408, 'Request Timeout', detail);
const notJson = () => badRequest('The body is not valid JSON.');

/** The charset a JSON body declares, if any; JSON is UTF-8 (RFC 8259 §8.1). */
function declaresOtherCharset(req: Request): boolean {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.get('Content-Type') ?? '')?.[1];
  return charset !== undefined && !/^utf-?8$/i.test(charset);
}

/**
 * Reads a body up to `maxBytes`, failing as soon as it passes the limit, goes `stallMs` without a
 * byte, or takes longer than the deadline; on failure the rest is left unread (the caller closes
 * the connection).
 */
function readBody(req: Request, maxBytes: number, stallMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    let stall: NodeJS.Timeout | undefined;
    const deadline = setTimeout(
      () => fail(tooSlow(`The request body did not arrive within ${JSON_BODY_DEADLINE_MS} ms.`)),
      JSON_BODY_DEADLINE_MS,
    );
    const armStall = () => {
      clearTimeout(stall);
      stall = setTimeout(() => fail(tooSlow(`No data of the request body arrived for ${stallMs} ms.`)), stallMs);
    };
    const cleanUp = () => {
      settled = true;
      clearTimeout(deadline);
      clearTimeout(stall);
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
    };
    const fail = (err: Error) => {
      if (settled) return;
      cleanUp();
      req.pause();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) return fail(tooLarge(maxBytes));
      chunks.push(chunk);
      armStall();
    };
    const onEnd = () => {
      if (settled) return;
      cleanUp();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => fail(badRequest(`The request body could not be read: ${err.message}.`));
    const onClose = () => fail(badRequest('The connection closed before the request body was complete.'));
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
    armStall();
  });
}

/** Text to a JSON value, or the 400 saying why not (after the depth check, so parsing is bounded too). */
function parseJson(bytes: Buffer, maxDepth: number): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw badRequest('The body is not valid UTF-8.');
  }
  const first = /\S/.exec(text)?.[0];
  if (first === undefined) return {};
  // Like express.json's strict mode: a request body is an object or an array.
  if (first !== '{' && first !== '[') throw notJson();
  if (nestsDeeperThan(text, maxDepth)) {
    throw badRequest(`The body nests deeper than ${maxDepth} levels.`, [
      { path: '(body)', message: `nests deeper than ${maxDepth} levels` },
    ]);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw notJson();
  }
}

/** Refusals that leave part of the body unread end the connection, so what is left is never read. */
function closeAfter(res: Response): void {
  res.set('Connection', 'close');
}

export interface JsonBodyOptions {
  /** No byte of the body for this long: refused (408). */
  stallMs: number;
  maxBytes?: number;
  maxDepth?: number;
}

/** Parses JSON bodies into req.body within the limits; any other body is left for the route to refuse. */
export function jsonBodies(opts: JsonBodyOptions): RequestHandler {
  const maxBytes = opts.maxBytes ?? JSON_BODY_MAX_BYTES;
  const maxDepth = opts.maxDepth ?? JSON_MAX_DEPTH;
  return (req, res, next) => {
    const declared = Number(req.get('Content-Length'));
    if (Number.isFinite(declared) && declared > maxBytes) {
      closeAfter(res);
      return next(tooLarge(maxBytes));
    }
    // null: no body at all; false: a body of another type, which no route here takes.
    if (!req.is(JSON_TYPES)) return next();
    if (declaresOtherCharset(req)) {
      return next(new HttpProblem(415, 'Unsupported Media Type', 'Send JSON as UTF-8 (no charset, or charset=utf-8).'));
    }
    readBody(req, maxBytes, opts.stallMs).then(
      (bytes) => {
        try {
          req.body = parseJson(bytes, maxDepth);
        } catch (err) {
          return next(err);
        }
        next();
      },
      (err: unknown) => {
        closeAfter(res);
        next(err);
      },
    );
  };
}
