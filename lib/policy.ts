import { readFileSync } from 'node:fs';
import { PRODUCTION_POLICY, policySchema, type Policy } from '../domain/policy';

/** The policy new deviations start under: POLICY_FILE (JSON, validated) or the built-in production policy. */
export function loadPolicy(file: string | undefined): Policy {
  if (!file) return PRODUCTION_POLICY;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`POLICY_FILE ${file} cannot be read as JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const parsed = policySchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`POLICY_FILE ${file} is invalid:\n${parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`);
  }
  return parsed.data;
}
