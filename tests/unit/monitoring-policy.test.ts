import { monitoringPolicySchema, PRODUCTION_MONITORING } from '../../domain/monitoring/policy';
import { PRODUCTION_POLICY, policySchema } from '../../domain/policy';
import { loadPolicy } from '../../lib/policy';

describe('the monitoring policy', () => {
  it('watches every line on the discrepancy metrics with the four Western Electric rules when the file says nothing', () => {
    const p = monitoringPolicySchema.parse({});
    expect(p.lines).toBe('all');
    expect(p.chartedMetrics).toEqual(['duplicate_serial', 'aggregation_error', 'missing_report', 'unaccounted']);
    expect(Object.values(p.rules).every((r) => r.enabled)).toBe(true);
    expect(p.missingReportGrace).toBe('1 day');
    expect(loadPolicy(require.resolve('../../policies/compressed.json')).monitoring.rules).toEqual(p.rules);
  });

  it('makes any duplicate serial or lost package a deviation in production', () => {
    expect(PRODUCTION_MONITORING.thresholds).toEqual(
      expect.arrayContaining([
        { metric: 'duplicate_serial', maxCount: 0, severity: 'major' },
        { metric: 'lost_packaging', maxCount: 0, severity: 'major' },
      ]),
    );
    expect(policySchema.parse(PRODUCTION_POLICY).monitoring).toEqual(PRODUCTION_MONITORING);
  });

  it('refuses a threshold with no limit, an unknown metric, and a rule switched off by a typo', () => {
    const refused = (monitoring: unknown) => policySchema.safeParse({ ...PRODUCTION_POLICY, monitoring }).success;
    expect(refused({ thresholds: [{ metric: 'duplicate_serial', severity: 'major' }] })).toBe(false);
    expect(refused({ thresholds: [{ metric: 'smudges', maxCount: 0, severity: 'major' }] })).toBe(false);
    expect(refused({ rules: { beyond_limt: { enabled: false } } })).toBe(false);
    expect(refused({ missingReportGrace: 'soon' })).toBe(false);
    expect(refused({ rules: { beyond_limit: { enabled: false } } })).toBe(true);
  });
});
