import { PRODUCTION_POLICY, policySchema, resolvePolicy } from '../../domain/policy';
import { loadPolicy } from '../../lib/policy';
import { humanDuration } from '../../workflows/clocks';

describe('policy', () => {
  it('gives every severity a 60-minute containment window in production', () => {
    for (const severity of ['critical', 'major', 'minor'] as const) {
      const p = resolvePolicy(PRODUCTION_POLICY, severity);
      expect(p.containmentWindowMs).toBe(60 * 60_000);
      expect(p.containmentRemindersMs.every((r) => r < p.containmentWindowMs)).toBe(true);
    }
    expect(resolvePolicy(PRODUCTION_POLICY, 'critical').effectivenessDelayMs).toBe(30 * 86_400_000);
  });

  it('loads the compressed test policy, an hour compressed into seconds', () => {
    const p = resolvePolicy(loadPolicy(require.resolve('../../policies/compressed.json')), 'major');
    expect(p.containmentWindowMs).toBe(8_000);
  });

  it('refuses a policy with a bad duration, naming it', () => {
    const bad = structuredClone(PRODUCTION_POLICY) as unknown as { severities: { major: { containmentWindow: string } } };
    bad.severities.major.containmentWindow = 'soon';
    const r = policySchema.safeParse(bad);
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['severities', 'major', 'containmentWindow']);
  });
});

describe('durations in the record', () => {
  it('reads as people write them, whatever the policy', () => {
    expect(humanDuration(8_000)).toBe('8 s');
    expect(humanDuration(60 * 60_000)).toBe('60 minutes');
    expect(humanDuration(12 * 3_600_000)).toBe('12 hours');
    expect(humanDuration(30 * 86_400_000)).toBe('30 days');
  });
});
