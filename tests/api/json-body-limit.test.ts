import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { JSON_BODY_MAX_BYTES } from '../../api/body-limits';
import { startStack, testConfig, type TestStack } from '../helpers/stack';
import { CAPTURE_KEY, epcisDocument } from '../epcis/helpers';
import { after, listen, rawClient, type Listening } from './raw-http';

/**
 * JSON bodies are limited to 1 MiB on every route but the streamed ones, and a body over the limit
 * is refused (413 problem+json) as soon as the server knows: from a declared Content-Length before
 * a byte of the body is read, and from a chunked body as soon as it passes the limit, without
 * waiting for (or keeping) the rest. EPCIS capture still takes documents larger than that.
 */
let stack: TestStack;
let server: Listening;
beforeAll(async () => {
  stack = await startStack({ worker: false, config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY }) });
  server = await listen(stack.app, stack.config);
});
afterAll(async () => {
  await server.close();
  await stack.stop();
});

const loginHead = (framing: string) => `POST /auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n${framing}\r\n`;

describe('the JSON body limit', () => {
  it('is 1 MiB', () => {
    expect(JSON_BODY_MAX_BYTES).toBe(1024 * 1024);
  });

  it('refuses an unauthenticated sign-in declaring 20 MB at once (413 problem+json), before the body is sent', async () => {
    const client = rawClient(server.port, loginHead('Content-Length: 20000000\r\n'));
    client.write('{"login":"');
    const res = await Promise.race([client.response, after(5_000, 'no answer' as const)]);
    expect(res).not.toBe('no answer');
    expect(res).toMatchObject({
      status: 413,
      headers: { 'content-type': expect.stringMatching(/^application\/problem\+json/), connection: 'close' },
    });
    expect(JSON.parse((res as { body: string }).body)).toMatchObject({ status: 413, title: 'Content Too Large' });
    client.socket.destroy();
  });

  it('refuses a chunked body as soon as it passes 1 MiB, without waiting for the rest', async () => {
    const client = rawClient(server.port, loginHead('Transfer-Encoding: chunked\r\n'));
    const chunk = Buffer.alloc(64 * 1024, 'a');
    client.write(`${(10).toString(16)}\r\n{"login":"\r\n`);
    // 17 chunks of 64 KiB: past the limit, and the body never ends (no last chunk is sent).
    for (let i = 0; i < 17; i++) client.write(Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]));
    const res = await Promise.race([client.response, after(10_000, 'no answer' as const)]);
    expect(res).toMatchObject({ status: 413, headers: { 'content-type': expect.stringMatching(/^application\/problem\+json/) } });
    // The connection is closed: what the client still has to send is never read.
    await expect(Promise.race([client.closed.then(() => 'closed'), after(5_000, 'open')])).resolves.toBe('closed');
  });

  it('parses a body just under the limit (refused by the route for what it says, not for its size)', async () => {
    const body = { login: 'x'.repeat(JSON_BODY_MAX_BYTES - 100), password: 'irrelevant' };
    const res = await request(stack.app).post('/auth/login').send(body).expect(400);
    expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'login' })]));
  });

  it('does not apply to EPCIS capture: a 1.5 MB document is captured', async () => {
    const tag = randomUUID().slice(0, 8).toUpperCase();
    const events = Array.from({ length: 4500 }, (_, i) => ({
      type: 'ObjectEvent',
      eventID: `urn:uuid:${randomUUID()}`,
      eventTime: '2026-11-23T06:00:00Z',
      eventTimeZoneOffset: '+00:00',
      action: 'OBSERVE',
      bizStep: 'inspecting',
      epcList: [`urn:epc:id:sgtin:4012345.011111.${tag}${i}`],
      'ex:note': 'A long enough note to make the document pass the JSON body limit of the other routes by half.',
    }));
    const text = JSON.stringify({
      ...epcisDocument(events),
      '@context': ['https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld', { ex: 'https://example.com/ex/' }],
    });
    expect(Buffer.byteLength(text)).toBeGreaterThan(1.4 * JSON_BODY_MAX_BYTES);
    const res = await request(stack.app)
      .post('/epcis/capture')
      .set('X-API-Key', CAPTURE_KEY)
      .set('Content-Type', 'application/ld+json')
      .send(text);
    expect({ status: res.status, events: res.body.events }).toEqual({ status: 202, events: 4500 });
  });
});
