import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface TemporalBinaries {
  cli: string;
  testServer: string | null;
}

const MANIFEST = path.resolve(__dirname, '..', '.tools', 'temporal.json');

/** Paths written by scripts/prepare.mjs; TEMPORAL_CLI / TEMPORAL_TEST_SERVER override them. */
export function temporalBinaries(): TemporalBinaries {
  const fromFile: Partial<TemporalBinaries> = existsSync(MANIFEST) ? JSON.parse(readFileSync(MANIFEST, 'utf8')) : {};
  const cli = process.env.TEMPORAL_CLI ?? fromFile.cli;
  if (!cli) throw new Error('The Temporal CLI is not provisioned: run `npm start` or `node scripts/prepare.mjs` first.');
  return { cli, testServer: process.env.TEMPORAL_TEST_SERVER ?? fromFile.testServer ?? null };
}
