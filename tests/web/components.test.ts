/**
 * Component-level tests of the web app's drawings and countdown: the fishbone and fault-tree
 * layouts (pure geometry) and their SVG, rendered with react-dom/server; the countdown's text.
 */
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { FaultTreeDiagram } from '../../web/src/diagrams/FaultTreeDiagram';
import { layoutFaultTree, type FaultTreeNodeInput } from '../../web/src/diagrams/fault-tree-layout';
import { FishboneDiagram } from '../../web/src/diagrams/FishboneDiagram';
import { FISHBONE_ORDER, layoutFishbone } from '../../web/src/diagrams/fishbone-layout';
import { countdown, formatDuration } from '../../web/src/lib/countdown';
import { FISHBONE_CATEGORIES } from '../../domain/rca';

const fishbone = {
  effect: 'Serials commissioned twice',
  causes: {
    materials: ['Label stock from a new supplier'],
    method: ['SOP omits clearing the queue', 'No check after restart', 'Shift handover unclear'],
    machine: ['Printer replays its buffer'],
    man: [],
    measurement: ['Vision system misses duplicates'],
    environment: ['Power dip at 02:14'],
  },
  rootCause: { category: 'machine' as const, cause: 'Printer replays its buffer' },
};

describe('fishbone layout', () => {
  const l = layoutFishbone(fishbone);

  it('draws the six categories the schema knows, three above the spine and three below', () => {
    expect([...FISHBONE_ORDER].sort()).toEqual([...FISHBONE_CATEGORIES].sort());
    expect(l.bones.map((b) => b.category)).toEqual([...FISHBONE_ORDER]);
    expect(l.bones.filter((b) => b.side === 'top').every((b) => b.y2 < l.spine.y1)).toBe(true);
    expect(l.bones.filter((b) => b.side === 'bottom').every((b) => b.y2 > l.spine.y1)).toBe(true);
  });

  it('puts every bone on the spine, left of the head, and inside the drawing', () => {
    for (const b of l.bones) {
      expect(b.y1).toBe(l.spine.y1);
      expect(b.x1).toBeGreaterThan(l.spine.x1);
      expect(b.x1).toBeLessThan(l.head.x);
      for (const x of [b.x1, b.x2, b.labelX]) expect(x).toBeGreaterThanOrEqual(0);
      for (const y of [b.y1, b.y2, b.labelY]) expect(y).toBeGreaterThanOrEqual(0);
      expect(Math.max(b.x1, b.x2)).toBeLessThanOrEqual(l.width);
      expect(Math.max(b.y1, b.y2, b.labelY)).toBeLessThanOrEqual(l.height);
    }
    expect(l.head.x + l.head.width).toBeLessThanOrEqual(l.width);
  });

  it('places each cause on its bone, between the spine and the label, one row apart, the root cause marked', () => {
    const method = l.bones.find((b) => b.category === 'method')!;
    expect(method.causes).toHaveLength(3);
    for (const c of method.causes) {
      expect(c.y).toBeGreaterThan(method.y2);
      expect(c.y).toBeLessThan(method.y1);
      expect(c.x).toBeGreaterThan(Math.min(method.x1, method.x2) - 0.001);
      expect(c.x).toBeLessThan(Math.max(method.x1, method.x2) + 0.001);
      expect(c.ribX).toBeLessThan(c.x);
    }
    const ys = method.causes.map((c) => c.y);
    expect(new Set(ys).size).toBe(3);
    const roots = l.bones.flatMap((b) => b.causes.filter((c) => c.root).map((c) => ({ bone: b.category, text: c.text })));
    expect(roots).toEqual([{ bone: 'machine', text: 'Printer replays its buffer' }]);
  });

  it('grows with the longest list of causes, so ribs never overlap', () => {
    const many = layoutFishbone({ effect: 'e', causes: { materials: Array.from({ length: 12 }, (_, i) => `cause ${i}`) } });
    expect(many.height).toBeGreaterThan(l.height);
    const ys = many.bones[0]!.causes.map((c) => c.y);
    for (let i = 1; i < ys.length; i++) expect(Math.abs(ys[i]! - ys[i - 1]!)).toBeGreaterThanOrEqual(20);
  });

  it('renders an SVG with every category, the effect and an accessible description', () => {
    const html = renderToStaticMarkup(createElement(FishboneDiagram, { analysis: fishbone }));
    expect(html).toContain('role="img"');
    for (const c of ['Materials', 'Method', 'Machine', 'Man', 'Measurement', 'Environment']) expect(html).toContain(`>${c}<`);
    expect(html).toContain('Serials commissioned twice');
    expect(html).toContain('data-root-cause="true"');
    expect(html).toMatch(/aria-label="[^"]*Root cause \(machine\): Printer replays its buffer/);
  });
});

const tree: FaultTreeNodeInput[] = [
  { id: 'TOP', type: 'or', label: 'Duplicate serials shipped', children: ['G1', 'B3'] },
  { id: 'G1', type: 'and', label: 'Printed twice and not caught', children: ['B1', 'B2'] },
  { id: 'B1', type: 'basic', label: 'Printer replays buffer', probability: 0.01 },
  { id: 'B2', type: 'basic', label: 'Vision check disabled' },
  { id: 'B3', type: 'basic', label: 'Manual serial entry' },
];

describe('fault-tree layout', () => {
  const l = layoutFaultTree('TOP', tree, ['B1']);
  const at = (id: string) => l.nodes.find((n) => n.id === id)!;

  it('places every node, each child below its gate, the top event highest', () => {
    expect(l.nodes).toHaveLength(5);
    expect(at('TOP').top).toBe(true);
    for (const n of l.nodes) if (n.id !== 'TOP') expect(n.y).toBeGreaterThan(at('TOP').y);
    expect(at('B1').y).toBeGreaterThan(at('G1').y);
    expect(at('B2').y).toBeGreaterThan(at('G1').y);
    for (const n of l.nodes) {
      expect(n.x - n.width / 2).toBeGreaterThanOrEqual(0);
      expect(n.x + n.width / 2).toBeLessThanOrEqual(l.width);
      expect(n.y + n.height / 2).toBeLessThanOrEqual(l.height);
    }
  });

  it('does not overlap nodes of the same rank', () => {
    const byRank = new Map<number, typeof l.nodes>();
    for (const n of l.nodes) byRank.set(Math.round(n.y), [...(byRank.get(Math.round(n.y)) ?? []), n]);
    for (const rank of byRank.values()) {
      const sorted = [...rank].sort((a, b) => a.x - b.x);
      for (let i = 1; i < sorted.length; i++)
        expect(sorted[i]!.x - sorted[i]!.width / 2).toBeGreaterThanOrEqual(sorted[i - 1]!.x + sorted[i - 1]!.width / 2);
    }
  });

  it('connects each gate to each of its children, from the gate down to the child', () => {
    expect(l.edges.map((e) => `${e.from}>${e.to}`).sort()).toEqual(['G1>B1', 'G1>B2', 'TOP>B3', 'TOP>G1']);
    for (const e of l.edges) {
      const first = e.points[0]!;
      const last = e.points[e.points.length - 1]!;
      expect(first.x).toBeCloseTo(at(e.from).x);
      expect(last.x).toBeCloseTo(at(e.to).x);
      expect(last.y).toBeGreaterThan(first.y);
    }
  });

  it('marks the confirmed root causes and ignores children that name nothing', () => {
    expect(l.nodes.filter((n) => n.rootCause).map((n) => n.id)).toEqual(['B1']);
    const broken = layoutFaultTree('T', [
      { id: 'T', type: 'or', label: 't', children: ['X', 'A'] },
      { id: 'A', type: 'basic', label: 'a' },
    ]);
    expect(broken.edges).toHaveLength(1);
  });

  it('renders the AND and OR gates as their symbols, basic events as circles', () => {
    const html = renderToStaticMarkup(createElement(FaultTreeDiagram, { top: 'TOP', nodes: tree, rootCauses: ['B1'] }));
    expect(html.match(/data-gate="or"/g)).toHaveLength(1);
    expect(html.match(/data-gate="and"/g)).toHaveLength(1);
    expect(html.match(/<ellipse/g)).toHaveLength(3);
    expect(html).toContain('>AND<');
    expect(html).toContain('>OR<');
    expect(html).toContain('p=0.01');
    expect(html).toMatch(/aria-label="[^"]*G1 AND gate/);
  });
});

describe('countdown', () => {
  const due = Date.parse('2026-12-04T12:00:00Z');

  it('counts to the second, in mm:ss under an hour, h:mm:ss under a day, then days', () => {
    expect(countdown(due, due - 7 * 60_000 - 3_000).text).toBe('07:03');
    expect(countdown(due, due - 7 * 60_000 - 3_000).spoken).toBe('7 minutes 3 seconds left');
    expect(countdown(due, due - (2 * 3600 + 5) * 1000).text).toBe('2:00:05');
    expect(countdown(due, due - (3 * 86_400 + 3661) * 1000).text).toBe('3d 01:01:01');
    expect(formatDuration(0)).toBe('00:00');
  });

  it('ticks down once a second', () => {
    const texts = [0, 1000, 2000, 3000].map((ms) => countdown(due, due - 10_000 + ms).text);
    expect(texts).toEqual(['00:10', '00:09', '00:08', '00:07']);
    expect(countdown(due, due - 10_000 + 400).text).toBe('00:09');
  });

  it('says how late once the deadline passed', () => {
    const c = countdown(due, due + 12_000);
    expect(c).toMatchObject({ overdue: true, urgency: 'overdue', seconds: -12, text: 'overdue 00:12', spoken: 'overdue by 12 seconds' });
    expect(countdown(due, due + 1).overdue).toBe(true);
    expect(countdown(due, due).overdue).toBe(false);
  });

  it('is urgent in the last quarter hour, or the last quarter of a short window', () => {
    expect(countdown(due, due - 20 * 60_000).urgency).toBe('ok');
    expect(countdown(due, due - 10 * 60_000).urgency).toBe('soon');
    expect(countdown(due, due - 5_000, 8_000).urgency).toBe('ok');
    expect(countdown(due, due - 1_000, 8_000).urgency).toBe('soon');
  });
});
