import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';

/**
 * One HTTP request on the wire, exactly as built: the path is sent byte for byte (hostile
 * percent-encodings included, which supertest would normalise or refuse), the body is the given
 * bytes, and the client side of the connection is bound to a loopback address of the caller's
 * choice (127.0.0.0/8 is all loopback on Linux), so sign-in failures the fuzz causes count against
 * addresses of its own and never lock 127.0.0.1.
 */
export interface WireRequest {
  method: string;
  /** Path and query string, already encoded. */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  localAddress?: string;
}

export interface WireResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  ms: number;
  /** A transport error after (or instead of) the response, e.g. the server closing a connection it refused. */
  error?: string;
}

const MAX_KEPT_BYTES = 4 * 1024 * 1024;

export function send(port: number, req: WireRequest, timeoutMs = 60_000): Promise<WireResponse> {
  const started = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    let response: Omit<WireResponse, 'ms'> | undefined;
    const chunks: Buffer[] = [];
    let kept = 0;
    const finish = (error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const body = Buffer.concat(chunks);
      resolve(
        response
          ? { ...response, body, ms: Date.now() - started, ...(error ? { error } : {}) }
          : { status: 0, headers: {}, body, ms: Date.now() - started, error: error ?? 'no response' },
      );
    };
    const headers: Record<string, string> = { Connection: 'close', ...req.headers };
    if (req.body !== undefined) headers['Content-Length'] = String(req.body.length);
    const options = {
      host: '127.0.0.1',
      port,
      method: req.method,
      path: req.path,
      headers,
      agent: false as const,
      ...(req.localAddress ? { localAddress: req.localAddress } : {}),
    };
    let r: ReturnType<typeof httpRequest>;
    try {
      r = httpRequest(options, (res) => {
        response = { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.alloc(0) };
        res.on('data', (c: Buffer) => {
          if (kept < MAX_KEPT_BYTES) chunks.push(c);
          kept += c.length;
        });
        res.on('end', () => finish());
        res.on('error', (err) => finish(err.message));
        res.on('close', () => finish());
      });
    } catch (err) {
      // Node refused to send it (a header it will not write): a mistake of the fuzz, not an answer.
      throw new Error(`the request could not be sent: ${String(err)}`);
    }
    const timer = setTimeout(() => {
      r.destroy(new Error(`no complete answer within ${timeoutMs} ms`));
    }, timeoutMs);
    // A server that refuses a body (413) answers and closes before the client has written it all.
    r.on('error', (err) => (response ? finish(err.message) : setTimeout(() => finish(err.message), 50)));
    if (req.body !== undefined && req.body.length > 0) r.write(req.body);
    r.end();
  });
}

/** Loopback client addresses, one per request, deterministic: 127.88.x.y (never 127.0.0.x). */
export function loopbackAddresses(): () => string {
  let n = 0;
  return () => {
    n = (n % 65_000) + 1;
    return `127.88.${n >> 8}.${n & 255 || 1}`;
  };
}
