import { loadConfig } from '../../lib/config';
import { startStack, testConfig, type TestStack } from '../helpers/stack';
import { after, listen, rawClient, type Listening, type RawClient } from './raw-http';

/**
 * The API server's timeouts are set on purpose (api/server.ts, from configuration): a client gets
 * HTTP_HEADERS_TIMEOUT_MS to send its headers and HTTP_REQUEST_TIMEOUT_MS to send the whole
 * request, and an idle keep-alive connection closes after HTTP_KEEP_ALIVE_TIMEOUT_MS. Short values
 * here; the defaults are checked too.
 */
let stack: TestStack;
let server: Listening;
beforeAll(async () => {
  const config = testConfig({
    HTTP_HEADERS_TIMEOUT_MS: '1000',
    HTTP_REQUEST_TIMEOUT_MS: '2500',
    HTTP_KEEP_ALIVE_TIMEOUT_MS: '500',
    BODY_STALL_TIMEOUT_MS: '10000',
  });
  stack = await startStack({ worker: false, config });
  server = await listen(stack.app, stack.config);
});
afterAll(async () => {
  await server.close();
  await stack.stop();
});

/** When (ms after `since`) the server hung up, and the status it answered with, if any. */
async function outcome(client: RawClient, since: number) {
  const closedAt = await Promise.race([client.closed, after(10_000, null)]);
  return { status: (await client.response)?.status, closedAfterMs: closedAt === null ? null : closedAt - since };
}

describe('server timeouts', () => {
  it('have deliberate defaults: 30 s for headers, an hour for a whole request (streamed uploads), 5 s keep-alive, 30 s body stall', () => {
    const defaults = loadConfig({});
    expect(defaults).toMatchObject({
      HTTP_HEADERS_TIMEOUT_MS: 30_000,
      HTTP_REQUEST_TIMEOUT_MS: 3_600_000,
      HTTP_KEEP_ALIVE_TIMEOUT_MS: 5_000,
      BODY_STALL_TIMEOUT_MS: 30_000,
    });
  });

  it('drop a client that does not finish its headers (408)', async () => {
    const since = Date.now();
    const client = rawClient(server.port, 'GET /health HTTP/1.1\r\nHost: localhost\r\n');
    const timer = setInterval(() => client.write('X-Slow: 1\r\n'), 200);
    try {
      const { status, closedAfterMs } = await outcome(client, since);
      expect(status).toBe(408);
      expect((await client.response)?.headers['content-type']).toBe('application/problem+json');
      expect(closedAfterMs).toBeGreaterThanOrEqual(950);
      expect(closedAfterMs).toBeLessThan(3500);
    } finally {
      clearInterval(timer);
    }
  });

  it('drop a client whose body keeps coming but never ends, at the request timeout (408)', async () => {
    const since = Date.now();
    const client = rawClient(
      server.port,
      'POST /auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n',
    );
    const timer = setInterval(() => client.write(' '), 200);
    try {
      const { status, closedAfterMs } = await outcome(client, since);
      expect(status).toBe(408);
      expect(closedAfterMs).toBeGreaterThanOrEqual(2450);
      expect(closedAfterMs).toBeLessThan(5000);
    } finally {
      clearInterval(timer);
    }
  });

  it("answer a request line and headers past Node's 16 KB limit with 431 problem+json, not a bare status line", async () => {
    const client = rawClient(server.port, `GET /deviations?q=${'%C3%A9'.repeat(20_000)} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    const res = await client.response;
    expect(res?.status).toBe(431);
    expect(res?.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(res!.body)).toMatchObject({ status: 431, title: 'Request Header Fields Too Large' });
  });

  it('answer bytes that are not HTTP with 400 problem+json', async () => {
    const client = rawClient(server.port, 'GET /health HTTP/1.1\r\nHost: localhost\r\nContent-Length: x\r\n\r\n');
    const res = await client.response;
    expect(res?.status).toBe(400);
    expect(JSON.parse(res!.body)).toMatchObject({ status: 400, type: 'about:blank' });
  });

  it('close an idle keep-alive connection after the keep-alive timeout', async () => {
    const client = rawClient(server.port, 'GET /openapi.json HTTP/1.1\r\nHost: localhost\r\n\r\n');
    expect((await client.response)?.status).toBe(200);
    const answered = Date.now();
    const closedAt = await Promise.race([client.closed, after(5_000, null)]);
    expect(closedAt).not.toBeNull();
    expect(closedAt! - answered).toBeLessThan(3000);
  });
});
