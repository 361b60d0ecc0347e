import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = path.dirname(fileURLToPath(import.meta.url));

/**
 * The web app's build. No dev server is part of the product: `node scripts/build-web.mjs` builds
 * into web/dist and the API serves it (api/web.ts). `@domain` and `@workflows` are the API's own
 * pure modules (zod schemas, types, the gates table), imported, never copied.
 */
export default defineConfig({
  root,
  base: '/',
  publicDir: path.join(root, 'public'),
  resolve: {
    alias: {
      '@domain': path.resolve(root, '..', 'domain'),
      '@workflows': path.resolve(root, '..', 'workflows'),
    },
  },
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: path.join(root, 'dist'),
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    chunkSizeWarningLimit: 2000,
    // The CSP forbids inline scripts: the module preload polyfill would not be inline anyway, but no need for it.
    modulePreload: { polyfill: false },
    rolldownOptions: {
      // "use client" directives of React libraries mean nothing in a client bundle.
      onLog(level, log, handler) {
        if (log.code === 'MODULE_LEVEL_DIRECTIVE') return;
        handler(level, log);
      },
    },
  },
});
