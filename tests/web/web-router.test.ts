/**
 * api/web.ts: the built app at `/` and below `/app/`, its assets, the security headers and a CSP
 * without inline scripts; and never an answer for a path of the API.
 */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import request from 'supertest';
import { openApiDocument } from '../../api/openapi';
import { APP_PREFIX, webRoutes } from '../../api/web';

function fakeBuild(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'web-dist-'));
  mkdirSync(path.join(dir, 'assets'));
  writeFileSync(path.join(dir, 'index.html'), '<!doctype html><div id="root"></div><script type="module" src="/assets/app-1.js"></script>');
  writeFileSync(path.join(dir, 'assets', 'app-1.js'), 'console.log(1)');
  writeFileSync(path.join(dir, 'favicon.svg'), '<svg/>');
  return dir;
}

/** The web routes in front of a stand-in API that answers every request it gets with 418. */
function app(distDir = fakeBuild()) {
  const a = express();
  a.use(webRoutes({ distDir }));
  a.use((_req, res) => void res.status(418).json({ api: true }));
  return a;
}

describe('web routes', () => {
  it.each(['/', APP_PREFIX, `${APP_PREFIX}/`, `${APP_PREFIX}/deviations/DEV-2026-000001`, `${APP_PREFIX}/tasks?x=1`])(
    'serves the page for %s, not cached',
    async (url) => {
      const res = await request(app()).get(url).set('Accept', 'text/html');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/text\/html/);
      expect(res.text).toContain('<div id="root">');
      expect(res.headers['cache-control']).toBe('no-cache');
    },
  );

  it('serves hashed assets with a long cache, and lets unknown assets through', async () => {
    const res = await request(app()).get('/assets/app-1.js');
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toMatch(/max-age=31536000.*immutable/);
    expect((await request(app()).get('/assets/nope.js')).status).toBe(418);
    expect((await request(app()).get('/favicon.svg')).status).toBe(200);
  });

  it('sends security headers and a CSP that allows no inline or foreign script', async () => {
    const res = await request(app()).get('/app/');
    const csp = res.headers['content-security-policy'] as string;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    expect(csp).not.toMatch(/unsafe-eval/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("object-src 'none'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
  });

  it('answers 503 with how to build when the app is not built', async () => {
    const res = await request(app(path.join(tmpdir(), 'no-such-build'))).get('/app/');
    expect(res.status).toBe(503);
    expect(res.text).toMatch(/build-web/);
  });

  it('never answers a path of the API (every OpenAPI path, every method, even asking for HTML)', async () => {
    const doc = openApiDocument() as { paths: Record<string, Record<string, unknown>> };
    const paths = Object.entries(doc.paths);
    expect(paths.length).toBeGreaterThan(20);
    const a = app();
    for (const [p, ops] of paths) {
      expect(p === '/' || p === APP_PREFIX || p.startsWith(`${APP_PREFIX}/`) || p.startsWith('/assets/')).toBe(false);
      const url = p.replace(/\{[^}]+\}/g, 'X1');
      for (const method of Object.keys(ops)) {
        if (method === 'options') continue;
        const res = await request(a)[method as 'get' | 'post' | 'patch' | 'delete'](url).set('Accept', 'text/html');
        expect({ url, method, status: res.status }).toEqual({ url, method, status: 418 });
      }
    }
  });
});
