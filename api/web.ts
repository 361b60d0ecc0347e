import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { Router, type RequestHandler } from 'express';
import helmet from 'helmet';

/**
 * The web application (web/), served by the API process as static files: the built bundle from
 * web/dist at `/assets/…`, and its one page for `/` and every route of the app, which all live
 * below `/app/` so the fallback can never shadow an API route (the API has no `/app` or `/assets`
 * path; tests/web/web-router.test.ts checks every path of the OpenAPI document).
 */
export const WEB_DIST = path.resolve(__dirname, '..', 'web', 'dist');

/** The first segment of every route of the app (web/src/routes.ts). */
export const APP_PREFIX = '/app';

/**
 * Security headers for every answer (helmet), with a Content-Security-Policy the app works under:
 * scripts only from this origin (no inline script, no eval), styles from this origin plus inline
 * style attributes (the component library sets CSS variables through them; styles cannot run
 * code), no plugins, no framing, forms and fetches to this origin only.
 */
export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        scriptSrcAttr: ["'none'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:', 'blob:'],
        fontSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    // Downloads (evidence packages, CSV) open in the same origin; nothing is embedded cross-origin.
    crossOriginEmbedderPolicy: false,
    // HSTS only makes sense behind https; a reverse proxy that terminates TLS sets it.
    strictTransportSecurity: false,
    referrerPolicy: { policy: 'no-referrer' },
  });
}

export interface WebRoutesOptions {
  /** Where the built app is (web/dist by default). */
  distDir?: string;
}

/**
 * The app's static files and its page. Mount before the API's routes (it answers only `/`,
 * `/app`, `/app/…` and files that exist in the build) and after nothing that must see every request.
 */
export function webRoutes(opts: WebRoutesOptions = {}): Router {
  const dist = opts.distDir ?? WEB_DIST;
  const router = Router();
  router.use(securityHeaders());
  // Hashed file names: a year of caching; the page itself is never cached, so a new build is picked up at once.
  router.use(
    '/assets',
    express.static(path.join(dist, 'assets'), { index: false, immutable: true, maxAge: '365d', fallthrough: true, redirect: false }),
  );
  const files = express.static(dist, { index: false, redirect: false });
  for (const file of WEB_FILES) router.get(file, files);

  const page: RequestHandler = (_req, res) => {
    const index = path.join(dist, 'index.html');
    if (!existsSync(index)) {
      res
        .status(503)
        .type('text/plain; charset=utf-8')
        .send('The web application is not built yet: run `node scripts/build-web.mjs` (npm start and npm test build it when missing).\n');
      return;
    }
    res.set('Cache-Control', 'no-cache').sendFile(index);
  };
  for (const pagePath of WEB_PAGES) router.get(pagePath, page);
  return router;
}

const WEB_FILES = ['/favicon.svg', '/robots.txt'];
const WEB_PAGES = ['/', APP_PREFIX, `${APP_PREFIX}/*rest`];
/** The paths the web router answers (besides /assets): not part of the API, nor of its OpenAPI document. */
export const WEB_ROUTE_PATHS: readonly string[] = [...WEB_FILES, ...WEB_PAGES];
