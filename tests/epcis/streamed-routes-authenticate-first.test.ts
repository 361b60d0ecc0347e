import { randomUUID } from 'node:crypto';
import { startStack, testConfig, type TestStack } from '../helpers/stack';
import { signedInUser } from '../helpers/users';
import { after, listen, rawClient, type Listening } from '../api/raw-http';
import { CAPTURE_KEY } from './helpers';

/**
 * The streamed routes (EPCIS capture, repository reports) accept bodies of hundreds of MB, so they
 * authenticate and authorise the caller from the headers alone, before a byte of the body is read:
 * a caller without access is answered while its body is still unsent.
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

const head = (path: string, auth: string) =>
  `POST ${path} HTTP/1.1\r\nHost: localhost\r\n${auth}Content-Type: application/json\r\nContent-Length: 300000000\r\n\r\n`;
/** The status answered to 300 MB declared and not sent, or 'waiting' when the server waits for the body. */
async function answerWithoutBody(path: string, auth: string) {
  const client = rawClient(server.port, head(path, auth));
  try {
    const res = await Promise.race([client.response, after(1500, 'waiting' as const)]);
    return res === 'waiting' ? res : res?.status;
  } finally {
    client.socket.destroy();
  }
}

describe('streamed routes', () => {
  it('refuse an anonymous caller, a wrong key and a role without access before reading the body', async () => {
    const auditor = await signedInUser(stack.app, stack.pool, { roles: ['auditor'] });
    const lot = `L${randomUUID().slice(0, 8)}`;
    for (const path of ['/epcis/capture', `/batches/${lot}/repository-reports`]) {
      expect({ path, status: await answerWithoutBody(path, '') }).toEqual({ path, status: 401 });
      expect({ path, status: await answerWithoutBody(path, 'X-API-Key: not-the-key-not-the-key\r\n') }).toEqual({ path, status: 401 });
      expect({ path, status: await answerWithoutBody(path, `Authorization: Bearer ${auditor.token}\r\n`) }).toEqual({ path, status: 403 });
    }
  });

  it('wait for the body of a caller with access (the body is what they read)', async () => {
    expect(await answerWithoutBody('/epcis/capture', `X-API-Key: ${CAPTURE_KEY}\r\n`)).toBe('waiting');
  });
});
