#!/usr/bin/env node
// Builds the web application (web/) into web/dist when its build is missing or stale: stale means
// a source of the app, or a module of the API it imports (domain/, workflows/), or the lockfile
// changed since the last build. The inputs' hash is kept in web/dist/.build-stamp. Plain Node.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'web', 'dist');
const stampPath = path.join(dist, '.build-stamp');
const say = (msg) => process.stdout.write(`[build-web] ${msg}\n`);

/** Every file the build reads: the app, the API modules it imports, its configuration, the lockfile. */
function inputs() {
  const files = [];
  const walk = (dir) => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name === 'dist' || entry.name === 'node_modules') continue;
        walk(full);
      } else if (statSync(full).isFile()) files.push(full);
    }
  };
  walk(path.join(root, 'web'));
  walk(path.join(root, 'domain'));
  walk(path.join(root, 'workflows'));
  files.push(path.join(root, 'package-lock.json'));
  return files.filter((f) => existsSync(f)).sort();
}

export function inputsHash() {
  const h = createHash('sha256');
  for (const f of inputs()) h.update(path.relative(root, f)).update('\0').update(readFileSync(f)).update('\0');
  return h.digest('hex');
}

/** True when web/dist holds a build of the current sources. */
export function webBuildIsCurrent() {
  return existsSync(path.join(dist, 'index.html')) && existsSync(stampPath) && readFileSync(stampPath, 'utf8') === inputsHash();
}

/** Builds when missing or stale; returns true when it built. Throws when the build fails. */
export function buildWebIfStale({ force = false } = {}) {
  const hash = inputsHash();
  if (!force && existsSync(path.join(dist, 'index.html')) && existsSync(stampPath) && readFileSync(stampPath, 'utf8') === hash)
    return false;
  const vite = path.join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  if (!existsSync(vite)) throw new Error('vite is not installed: run `npm install` (the web app is built with the dev dependencies).');
  say(existsSync(path.join(dist, 'index.html')) ? 'sources changed: rebuilding web/…' : 'building web/…');
  const started = Date.now();
  const r = spawnSync(process.execPath, [vite, 'build', '--config', path.join(root, 'web', 'vite.config.mts'), '--logLevel', 'warn'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`the web build failed (vite exited with ${r.status})`);
  writeFileSync(stampPath, hash);
  say(`built web/dist in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return true;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    buildWebIfStale({ force: process.argv.includes('--force') });
  } catch (err) {
    process.stderr.write(`[build-web] ${err.message}\n`);
    process.exit(1);
  }
}
