import { faultTreeProblems, faultTreeSchema, fishboneSchema, fiveWhySchema, riskClassOf } from '../../domain/rca';

const tree = {
  method: 'fault_tree' as const,
  top: 'TOP',
  nodes: [
    { id: 'TOP', type: 'or' as const, label: 'Duplicate serials released', children: ['G1', 'B3'] },
    { id: 'G1', type: 'and' as const, label: 'Number range reused', children: ['B1', 'B2'] },
    { id: 'B1', type: 'basic' as const, label: 'L3 system restored from an old backup' },
    { id: 'B2', type: 'basic' as const, label: 'No range check at commissioning' },
    { id: 'B3', type: 'basic' as const, label: 'Manual serial entry' },
  ],
  rootCauses: ['B1', 'B2'],
};

describe('fault tree structure', () => {
  it('accepts one top event, no cycles, every leaf a basic event', () => {
    expect(faultTreeProblems(tree.top, tree.nodes)).toEqual([]);
    expect(faultTreeSchema.safeParse(tree).success).toBe(true);
  });

  it('finds a cycle', () => {
    const nodes = tree.nodes.map((n) => (n.id === 'G1' ? { ...n, children: ['B1', 'TOP'] } : n));
    expect(faultTreeProblems('TOP', nodes).join(' ')).toMatch(/cycle|top event cannot be a child/);
  });

  it('finds a second top event and a dangling reference', () => {
    const nodes = [...tree.nodes, { id: 'X', type: 'basic' as const, label: 'orphan' }];
    expect(faultTreeProblems('TOP', nodes)).toContain('node X is not connected to the top event (a second top event)');
    const dangling = tree.nodes.map((n) => (n.id === 'G1' ? { ...n, children: ['B1', 'B9'] } : n));
    expect(faultTreeProblems('TOP', dangling)).toContain('gate G1 refers to an unknown node B9');
  });

  it('refuses a gate without children and a root cause that is not a basic event', () => {
    expect(
      faultTreeSchema.safeParse({ ...tree, nodes: [...tree.nodes.slice(0, 4), { id: 'B3', type: 'and', label: 'x', children: [] }] })
        .success,
    ).toBe(false);
    const r = faultTreeSchema.safeParse({ ...tree, rootCauses: ['G1'] });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toMatch(/G1 is not a basic event/);
  });
});

describe('5-Why and fishbone', () => {
  it('needs at least three whys', () => {
    const whys = [{ question: 'Why?', answer: 'Because' }];
    expect(fiveWhySchema.safeParse({ method: 'five_why', problem: 'p', whys, rootCause: 'r' }).success).toBe(false);
    expect(fiveWhySchema.safeParse({ method: 'five_why', problem: 'p', whys: [...whys, ...whys, ...whys], rootCause: 'r' }).success).toBe(
      true,
    );
  });

  it('takes the root cause from the causes listed under its category', () => {
    const base = {
      method: 'fishbone',
      effect: 'Duplicate serials',
      causes: { machine: ['Printer buffer replay'], method: ['No reconciliation before release'] },
    };
    expect(fishboneSchema.safeParse({ ...base, rootCause: { category: 'machine', cause: 'Printer buffer replay' } }).success).toBe(true);
    expect(fishboneSchema.safeParse({ ...base, rootCause: { category: 'man', cause: 'Printer buffer replay' } }).success).toBe(false);
  });
});

describe('risk class', () => {
  it('classifies severity × occurrence × detectability', () => {
    expect(riskClassOf({ method: 'fmea', severity: 5, occurrence: 4, detectability: 3, rationale: 'x' })).toBe('high');
    expect(riskClassOf({ method: 'fmea', severity: 3, occurrence: 2, detectability: 3, rationale: 'x' })).toBe('medium');
    expect(riskClassOf({ method: 'fmea', severity: 1, occurrence: 2, detectability: 3, rationale: 'x' })).toBe('low');
  });
});
