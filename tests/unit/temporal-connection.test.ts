import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { ConfigError, loadConfig } from '../../lib/config';
import { temporalConnectionOptions } from '../../lib/temporal';

/** How every process reaches a Temporal cluster: plain on a dev server, TLS/mTLS or an API key on a real one. */
let dir: string;
const files: Record<'ca' | 'crt' | 'key', string> = { ca: '', crt: '', key: '' };
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'temporal-tls-'));
  for (const name of ['ca', 'crt', 'key'] as const) {
    files[name] = path.join(dir, `${name}.pem`);
    writeFileSync(files[name], `-----BEGIN ${name.toUpperCase()}-----\n${name}\n-----END ${name.toUpperCase()}-----\n`);
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const problemsOf = (env: NodeJS.ProcessEnv) => {
  try {
    temporalConnectionOptions(loadConfig(env));
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('the configuration was accepted');
};

it('connects in plain text to the address alone when nothing asks for TLS', () => {
  expect(temporalConnectionOptions(loadConfig({ TEMPORAL_ADDRESS: 'temporal:7233' }))).toEqual({ address: 'temporal:7233' });
});

it('uses TLS with the system CAs and sends the API key for Temporal Cloud', () => {
  const options = temporalConnectionOptions(
    loadConfig({ TEMPORAL_ADDRESS: 'eu-west-1.aws.api.temporal.io:7233', TEMPORAL_NAMESPACE: 'quality.a1b2c', TEMPORAL_API_KEY: 'key-1' }),
  );
  expect(options).toEqual({ address: 'eu-west-1.aws.api.temporal.io:7233', tls: {}, apiKey: 'key-1' });
});

it('presents the client certificate and trusts the private CA for mTLS, checking the server name given', () => {
  const options = temporalConnectionOptions(
    loadConfig({
      TEMPORAL_ADDRESS: '10.0.4.7:7233',
      TEMPORAL_TLS_CA_FILE: files.ca,
      TEMPORAL_TLS_CERT_FILE: files.crt,
      TEMPORAL_TLS_KEY_FILE: files.key,
      TEMPORAL_TLS_SERVER_NAME: 'temporal.quality.internal',
    }),
  );
  expect(options.apiKey).toBeUndefined();
  expect(Buffer.from(options.tls!.serverRootCACertificate!).toString()).toMatch(/BEGIN CA/);
  expect(Buffer.from(options.tls!.clientCertPair!.crt).toString()).toMatch(/BEGIN CRT/);
  expect(Buffer.from(options.tls!.clientCertPair!.key).toString()).toMatch(/BEGIN KEY/);
  expect(options.tls!.serverNameOverride).toBe('temporal.quality.internal');
});

it('TEMPORAL_TLS=true alone is TLS with the system CAs', () => {
  expect(temporalConnectionOptions(loadConfig({ TEMPORAL_TLS: 'true' })).tls).toEqual({});
});

it('refuses a certificate without its key, a key or certificate without TLS, and an unreadable file, naming the variable', () => {
  expect(problemsOf({ TEMPORAL_TLS_CERT_FILE: files.crt })).toMatch(/TEMPORAL_TLS_KEY_FILE: a client certificate and its key/);
  expect(problemsOf({ TEMPORAL_TLS_KEY_FILE: files.key })).toMatch(/TEMPORAL_TLS_CERT_FILE: a client certificate and its key/);
  expect(problemsOf({ TEMPORAL_TLS: 'false', TEMPORAL_API_KEY: 'key-1' })).toMatch(/TEMPORAL_TLS: an API key or a client certificate/);
  expect(problemsOf({ TEMPORAL_TLS: 'maybe' })).toMatch(/TEMPORAL_TLS/);
  expect(problemsOf({ TEMPORAL_TLS_CA_FILE: path.join(dir, 'absent.pem') })).toMatch(
    /TEMPORAL_TLS_CA_FILE: cannot read .*absent\.pem \(ENOENT\)/,
  );
});

describe('against a cluster without TLS (the suite dev server)', () => {
  const plain = { TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS! };
  it('the API client and the worker connection speak TLS when configured to, so they cannot reach it', async () => {
    const tls = temporalConnectionOptions(loadConfig({ ...plain, TEMPORAL_TLS: 'true' }));
    await expect(Connection.connect({ ...tls, connectTimeout: 2000 })).rejects.toThrow();
    await expect(NativeConnection.connect(tls)).rejects.toThrow();
  });

  it('and reach it without TLS', async () => {
    const options = temporalConnectionOptions(loadConfig(plain));
    const client = await Connection.connect(options);
    const native = await NativeConnection.connect(options);
    await client.close();
    await native.close();
  });
});
