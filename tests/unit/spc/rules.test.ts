import { DEFAULT_SPC_RULES, SPC_RULE_IDS, describeRule, evaluateRules, spcRulesSchema, type SpcRuleId } from '../../../domain/spc';

const only = (rule: SpcRuleId, overrides: Record<string, unknown> = {}) =>
  spcRulesSchema.parse(Object.fromEntries(SPC_RULE_IDS.map((id) => [id, id === rule ? overrides : { enabled: false }])));
const firing = (z: Array<number | null>, rules = DEFAULT_SPC_RULES) => evaluateRules(z, rules).map((v) => `${v.rule}@${v.index}`);

describe('Western Electric rules, defaults', () => {
  it('rule 1: one point beyond 3σ, strictly', () => {
    expect(evaluateRules([0.4, -3.2])).toEqual([{ rule: 'beyond_limit', index: 1, side: 'below', points: [1] }]);
    expect(evaluateRules([0.4, -3])).toEqual([]);
    expect(evaluateRules([3.01])).toEqual([{ rule: 'beyond_limit', index: 0, side: 'above', points: [0] }]);
  });

  it('rule 2: 2 of 3 consecutive beyond 2σ on the same side', () => {
    expect(evaluateRules([2.1, 0.5, 2.2], only('two_of_three'))).toEqual([
      { rule: 'two_of_three', index: 2, side: 'above', points: [0, 2] },
    ]);
    expect(evaluateRules([2.1, 0.5], only('two_of_three'))).toEqual([]);
    // The pair must be within 3 consecutive points, on one side, and beyond 2σ strictly.
    expect(evaluateRules([2.1, 0.5, 0.5, 2.2], only('two_of_three'))).toEqual([]);
    expect(evaluateRules([2.1, 0.5, -2.2], only('two_of_three'))).toEqual([]);
    expect(evaluateRules([2.1, 0.5, 2], only('two_of_three'))).toEqual([]);
  });

  it('rule 3: 4 of 5 consecutive beyond 1σ on the same side', () => {
    expect(evaluateRules([-1.5, -1.2, 0.3, -1.1, -2.5], only('four_of_five'))).toEqual([
      { rule: 'four_of_five', index: 4, side: 'below', points: [0, 1, 3, 4] },
    ]);
    expect(evaluateRules([-1.5, -1.2, 0.3, -1.1], only('four_of_five'))).toEqual([]);
    expect(evaluateRules([-1.5, 0.3, -1.2, 0.3, -1.1, -2.5], only('four_of_five'))).toEqual([]);
  });

  it('rule 4: 8 in a row on the same side of the centre line; a point on the line ends the run', () => {
    const eightBelow = Array(8).fill(-0.2);
    expect(evaluateRules(eightBelow, only('same_side_run'))).toEqual([
      { rule: 'same_side_run', index: 7, side: 'below', points: [0, 1, 2, 3, 4, 5, 6, 7] },
    ]);
    expect(evaluateRules(eightBelow.slice(1), only('same_side_run'))).toEqual([]);
    expect(evaluateRules([...eightBelow.slice(0, 4), 0, ...eightBelow.slice(0, 4)], only('same_side_run'))).toEqual([]);
    expect(evaluateRules([...eightBelow.slice(0, 4), 0.1, ...eightBelow.slice(0, 4)], only('same_side_run'))).toEqual([]);
  });

  it('reports every point that completes a pattern, and every rule a point completes', () => {
    expect(firing(Array(10).fill(0.5))).toEqual(['same_side_run@7', 'same_side_run@8', 'same_side_run@9']);
    const tenth = evaluateRules(Array(10).fill(0.5)).at(-1)!;
    expect(tenth.points).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    expect(firing([3.5, 3.5])).toEqual(['beyond_limit@0', 'beyond_limit@1', 'two_of_three@1']);
  });

  it('reads nothing into a batch without units: it neither extends nor breaks a pattern', () => {
    const run = [0.2, 0.2, 0.2, null, 0.2, 0.2, 0.2, 0.2, null, 0.2];
    expect(evaluateRules(run, only('same_side_run'))).toEqual([
      { rule: 'same_side_run', index: 9, side: 'above', points: [0, 1, 2, 4, 5, 6, 7, 9] },
    ]);
    expect(evaluateRules([2.5, null, null, 0, 2.5], only('two_of_three'))).toEqual([
      { rule: 'two_of_three', index: 4, side: 'above', points: [0, 4] },
    ]);
    expect(evaluateRules([null, null])).toEqual([]);
  });

  it('stays quiet on points scattered around the centre line', () => {
    expect(evaluateRules([0.5, -0.8, 1.4, -1.9, 0.2, 1.2, -0.3, 2.4, -2.6, 0.9, -1.1, 1.6])).toEqual([]);
  });
});

describe('rule configuration per chart', () => {
  it('defaults to Western Electric rules 1–4, all enabled', () => {
    expect(spcRulesSchema.parse({})).toEqual({
      beyond_limit: { enabled: true, sigma: 3 },
      two_of_three: { enabled: true, count: 2, window: 3, sigma: 2 },
      four_of_five: { enabled: true, count: 4, window: 5, sigma: 1 },
      same_side_run: { enabled: true, length: 8 },
    });
    expect(spcRulesSchema.parse({ same_side_run: { length: 9 } }).same_side_run).toEqual({ enabled: true, length: 9 });
  });

  it('respects each rule’s parameters', () => {
    const nine = Array(9).fill(0.3);
    expect(firing(nine.slice(1), only('same_side_run', { length: 9 }))).toEqual([]);
    expect(firing(nine, only('same_side_run', { length: 9 }))).toEqual(['same_side_run@8']);

    expect(firing([2.6], only('beyond_limit', { sigma: 2.5 }))).toEqual(['beyond_limit@0']);
    expect(firing([2.4], only('beyond_limit', { sigma: 2.5 }))).toEqual([]);

    const threeOfFour = only('two_of_three', { count: 3, window: 4, sigma: 1.5 });
    expect(firing([1.6, 1.7, 0, 1.8], threeOfFour)).toEqual(['two_of_three@3']);
    expect(firing([1.6, 0, 0, 1.7, 1.8], threeOfFour)).toEqual([]);
    expect(firing([1.6, 1.7, 0, 1.4], threeOfFour)).toEqual([]);

    expect(firing([-0.6, -0.7, -0.8], only('four_of_five', { count: 3, window: 3, sigma: 0.5 }))).toEqual(['four_of_five@2']);
  });

  it('never fires a disabled rule', () => {
    const wild = [5, 5, 5, 5, 5, 5, 5, 5, 5, 5, -5, -5, -5, -5, -5, -5, -5, -5, -5];
    for (const rule of SPC_RULE_IDS) {
      const rules = spcRulesSchema.parse({ [rule]: { enabled: false } });
      const fired = new Set(evaluateRules(wild, rules).map((v) => v.rule));
      expect(fired.has(rule)).toBe(false);
      expect(fired.size).toBe(SPC_RULE_IDS.length - 1);
    }
    const allOff = spcRulesSchema.parse(Object.fromEntries(SPC_RULE_IDS.map((id) => [id, { enabled: false }])));
    expect(evaluateRules(wild, allOff)).toEqual([]);
  });

  it('rejects parameters that make no sense', () => {
    for (const bad of [
      { two_of_three: { count: 4, window: 3 } },
      { four_of_five: { sigma: 0 } },
      { same_side_run: { length: 1 } },
      { beyond_limit: { sigma: -3 } },
      { same_side_run: { length: 8.5 } },
      { trend: { enabled: true } },
      { beyond_limit: { enabled: true, limit: 3 } },
    ]) {
      expect(spcRulesSchema.safeParse(bad).success).toBe(false);
    }
  });

  it('describes each rule with its parameters', () => {
    const rules = spcRulesSchema.parse({ same_side_run: { length: 9 }, two_of_three: { sigma: 2.5 } });
    expect(SPC_RULE_IDS.map((id) => describeRule(id, rules))).toEqual([
      '1 point beyond 3σ',
      '2 of 3 consecutive points beyond 2.5σ on the same side',
      '4 of 5 consecutive points beyond 1σ on the same side',
      '9 points in a row on the same side of the centre line',
    ]);
  });
});
