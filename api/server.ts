import { createServer, type RequestListener, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { AppConfig } from '../lib/config';

type TimeoutConfig = Pick<AppConfig, 'HTTP_HEADERS_TIMEOUT_MS' | 'HTTP_REQUEST_TIMEOUT_MS' | 'HTTP_KEEP_ALIVE_TIMEOUT_MS'>;

/**
 * The API's HTTP server with its timeouts set on purpose rather than left to Node's defaults: a
 * client has HTTP_HEADERS_TIMEOUT_MS to send its headers and HTTP_REQUEST_TIMEOUT_MS to send the
 * whole request, and an idle keep-alive connection closes after HTTP_KEEP_ALIVE_TIMEOUT_MS. The
 * request timeout has to let a capture of hundreds of MB through, so what drops a slow body is the
 * per-body stall timeout of the routes (BODY_STALL_TIMEOUT_MS), which needs no total.
 */
export function createApiServer(app: RequestListener, config: TimeoutConfig): Server {
  const server = createServer(
    {
      // (Node refuses a headers timeout longer than the request timeout)
      headersTimeout: Math.min(config.HTTP_HEADERS_TIMEOUT_MS, config.HTTP_REQUEST_TIMEOUT_MS),
      requestTimeout: config.HTTP_REQUEST_TIMEOUT_MS,
      // Both timeouts are enforced by a sweep at this interval (Node's default, 30 s, would let a
      // 30-second headers timeout run to a minute).
      connectionsCheckingInterval: 1_000,
    },
    app,
  );
  server.keepAliveTimeout = config.HTTP_KEEP_ALIVE_TIMEOUT_MS;
  // No socket inactivity timeout: a reconciliation or an evidence bundle can compute for minutes
  // without a byte on the wire, and a silent client is already bounded by the timeouts above.
  server.timeout = 0;
  server.on('clientError', answerUnparsable);
  return server;
}

/**
 * A request Node's parser refused before the app saw it (headers or URL past the 16 KB limit, bad
 * framing, a headers or request timeout) gets the problem+json every other refusal gets, instead of
 * Node's bare status line.
 */
function answerUnparsable(err: NodeJS.ErrnoException, duplex: Duplex): void {
  const socket = duplex as Socket;
  // (as Node does: nothing is written into a connection that already carries an answer)
  if (err.code === 'ECONNRESET' || !socket.writable || socket.bytesWritten > 0) return void socket.destroy();
  const [status, title, detail] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'The request line and headers exceed 16 KB: send long input in a body.']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'The request was not received in time.']
        : [400, 'Bad Request', 'The request is not valid HTTP.'];
  const body = JSON.stringify({ type: 'about:blank', title, status, detail });
  socket.end(
    `HTTP/1.1 ${status} ${title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
