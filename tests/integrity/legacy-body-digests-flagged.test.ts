import { spawnSync } from 'node:child_process';
import path from 'node:path';
import request from 'supertest';
import { appendAudit, carriesLegacySecretDigest } from '../../audit/trail';
import { createCast, as, type Cast } from '../helpers/actors';
import { startStack, type TestStack } from '../helpers/stack';

/**
 * Rows written before the body digest became a keyed HMAC without secret fields keep a plain
 * SHA-256 of sign-in and signing bodies, password included. The trail is append-only, so they
 * stay; the verification names them.
 */
let stack: TestStack;
let cast: Cast;
beforeAll(async () => {
  stack = await startStack({ worker: false });
  cast = await createCast(stack.app, stack.pool);
});
afterAll(async () => {
  await stack.stop();
});

it('knows which legacy digests covered a password', () => {
  const legacy = { bodySha256: 'ab'.repeat(32) };
  expect(carriesLegacySecretDigest({ action: 'POST /auth/login', details: legacy })).toBe(true);
  expect(carriesLegacySecretDigest({ action: 'POST /tasks/:id/sign', details: legacy })).toBe(true);
  expect(carriesLegacySecretDigest({ action: 'POST /deviations/:id/change-controls/:cc/approve', details: legacy })).toBe(true);
  expect(carriesLegacySecretDigest({ action: 'POST /users/:id/password', details: legacy })).toBe(true);
  expect(carriesLegacySecretDigest({ action: 'POST /deviations/:id/evidence', details: legacy })).toBe(false);
  expect(carriesLegacySecretDigest({ action: 'POST /auth/login', details: { bodyHmac: 'ab'.repeat(32) } })).toBe(false);
});

it('GET /audit/verify and npm run audit -- verify-trail list such rows, and the chain still verifies', async () => {
  const row = await appendAudit(stack.pool, {
    actor: 'anonymous',
    action: 'POST /auth/login',
    entityType: 'api_call',
    entityId: '/auth/login',
    details: { method: 'POST', path: '/auth/login', status: 200, bodySha256: 'cd'.repeat(32) },
  });
  const verified = (await request(stack.app).get('/audit/verify').set(as(cast.auditor)).expect(200)).body;
  expect(verified.ok).toBe(true);
  expect(verified.legacySecretDigests.ids).toContain(row.id);

  const cli = spawnSync(process.execPath, ['--import', 'tsx', path.resolve(__dirname, '../../scripts/audit.ts'), 'verify-trail'], {
    env: process.env,
    encoding: 'utf8',
  });
  expect(cli.status).toBe(0);
  expect(JSON.parse(cli.stdout).legacySecretDigests.ids).toContain(row.id);
  expect(cli.stderr).toMatch(/plain SHA-256 of a body that carried a password/);
});
