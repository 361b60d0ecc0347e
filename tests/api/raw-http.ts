import type { AddressInfo } from 'node:net';
import { connect, type Socket } from 'node:net';
import type { Express } from 'express';
import { createApiServer } from '../../api/server';
import type { AppConfig } from '../../lib/config';

/**
 * A real listening API server and raw sockets to it, for what supertest cannot do: send headers
 * and then trickle, stall or stop, and watch when the server answers or hangs up.
 */
export interface Listening {
  port: number;
  close(): Promise<void>;
}

export async function listen(app: Express, config: AppConfig): Promise<Listening> {
  const server = createApiServer(app, config);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One connection: what was received so far, when it was closed, and the first response on it. */
export interface RawClient {
  socket: Socket;
  /** Resolves with the first whole response (headers and Content-Length body), or null if none came before the close. */
  response: Promise<RawResponse | null>;
  /** Resolves with the time (Date.now()) the server ended or reset the connection. */
  closed: Promise<number>;
  write(data: string | Buffer): boolean;
}

function parseResponse(raw: Buffer): RawResponse | null {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [statusLine, ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  const body = raw.subarray(end + 4);
  if (body.length < length) return null;
  return { status: Number(statusLine!.split(' ')[1]), headers, body: body.subarray(0, length).toString('utf8') };
}

/** Opens a connection and sends `head` (request line and headers, ending in an empty line, or less). */
export function rawClient(port: number, head: string): RawClient {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined); // a reset is one of the outcomes under test
  let received = Buffer.alloc(0);
  const response = new Promise<RawResponse | null>((resolve) => {
    socket.on('data', (data: Buffer) => {
      received = Buffer.concat([received, data]);
      const parsed = parseResponse(received);
      if (parsed) resolve(parsed);
    });
    socket.on('close', () => resolve(parseResponse(received)));
  });
  const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now())));
  socket.write(head);
  return { socket, response, closed, write: (data) => !socket.destroyed && socket.write(data) };
}

/** Resolves with `value` after `ms`, for racing a promise that should not have settled yet. */
export const after = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms).unref());
