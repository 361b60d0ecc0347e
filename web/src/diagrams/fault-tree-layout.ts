import { Graph, layout } from '@dagrejs/dagre';

/**
 * Layout of a fault tree: the top event above, gates (AND/OR) and basic events below, laid out by
 * dagre (a maintained Sugiyama layout). Pure: nodes in, positions out; the component draws them.
 */
export type FaultTreeNodeInput =
  | { id: string; type: 'basic'; label: string; probability?: number }
  | { id: string; type: 'and' | 'or'; label: string; children: string[] };

export interface PlacedNode {
  id: string;
  type: 'basic' | 'and' | 'or';
  label: string;
  /** Centre. */
  x: number;
  y: number;
  width: number;
  height: number;
  top: boolean;
  rootCause: boolean;
  probability?: number;
}

export interface PlacedEdge {
  from: string;
  to: string;
  points: Array<{ x: number; y: number }>;
}

export interface FaultTreeLayout {
  width: number;
  height: number;
  nodes: PlacedNode[];
  edges: PlacedEdge[];
}

export const FAULT_TREE_METRICS = { gateWidth: 170, gateHeight: 86, basicWidth: 150, basicHeight: 60, margin: 16 };

export function layoutFaultTree(top: string, nodes: FaultTreeNodeInput[], rootCauses: string[] = []): FaultTreeLayout {
  const m = FAULT_TREE_METRICS;
  const g = new Graph({ multigraph: false });
  g.setGraph({ rankdir: 'TB', nodesep: 28, ranksep: 44, marginx: m.margin, marginy: m.margin });
  g.setDefaultEdgeLabel(() => ({}));
  const known = new Set(nodes.map((n) => n.id));
  for (const n of nodes) {
    const gate = n.type !== 'basic';
    g.setNode(n.id, { width: gate ? m.gateWidth : m.basicWidth, height: gate ? m.gateHeight : m.basicHeight });
  }
  const edges: Array<{ from: string; to: string }> = [];
  for (const n of nodes) {
    if (n.type === 'basic') continue;
    for (const c of n.children) {
      if (!known.has(c) || c === n.id) continue;
      g.setEdge(n.id, c);
      edges.push({ from: n.id, to: c });
    }
  }
  layout(g);
  const graph = g.graph();
  const placed: PlacedNode[] = nodes.map((n) => {
    const p = g.node(n.id);
    return {
      id: n.id,
      type: n.type,
      label: n.label,
      x: p.x,
      y: p.y,
      width: p.width,
      height: p.height,
      top: n.id === top,
      rootCause: rootCauses.includes(n.id),
      ...(n.type === 'basic' && n.probability !== undefined ? { probability: n.probability } : {}),
    };
  });
  const byId = new Map(placed.map((n) => [n.id, n]));
  // Orthogonal connectors: from the bottom of the gate symbol down, across, and down to the child.
  const placedEdges = edges.map(({ from, to }) => {
    const a = byId.get(from)!;
    const b = byId.get(to)!;
    const startY = a.y + a.height / 2;
    const endY = b.y - b.height / 2;
    const midY = (startY + endY) / 2;
    return {
      from,
      to,
      points: [
        { x: a.x, y: startY },
        { x: a.x, y: midY },
        { x: b.x, y: midY },
        { x: b.x, y: endY },
      ],
    };
  });
  return { width: Math.ceil(graph.width ?? 0), height: Math.ceil(graph.height ?? 0), nodes: placed, edges: placedEdges };
}
