import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { PRODUCTION_POLICY } from '../domain/policy';
import { loadPolicy } from '../lib/policy';

/**
 * Writes the production policy with no line monitored into `dir` and returns the file, for the API
 * process of a capture benchmark: a reconciliation on a watched line tells that line's monitor
 * workflow, and those benchmarks run no Temporal server (they measure capture and reconciliation).
 */
export function unwatchedPolicyFile(dir: string): string {
  const file = path.join(dir, 'policy-unwatched.json');
  writeFileSync(file, JSON.stringify({ ...PRODUCTION_POLICY, monitoring: { ...PRODUCTION_POLICY.monitoring, lines: [] } }));
  loadPolicy(file);
  return file;
}
