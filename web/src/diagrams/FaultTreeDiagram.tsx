import { layoutFaultTree, type FaultTreeNodeInput, type PlacedNode } from './fault-tree-layout';

const INK = '#1f2933';
const ROOT = '#a61b1b';
const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** The gate symbol below an event box: AND (flat base, round top) or OR (curved base, pointed top). */
function GateSymbol({ node }: { node: PlacedNode }) {
  const cx = node.x;
  const base = node.y + node.height / 2;
  const top = base - 26;
  const w = 17;
  const path =
    node.type === 'and'
      ? `M ${cx - w} ${base} L ${cx - w} ${top + w} A ${w} ${w} 0 0 1 ${cx + w} ${top + w} L ${cx + w} ${base} Z`
      : `M ${cx - w} ${base} Q ${cx} ${base - 9} ${cx + w} ${base} Q ${cx + w} ${top + 8} ${cx} ${top} Q ${cx - w} ${top + 8} ${cx - w} ${base} Z`;
  return (
    <g data-gate={node.type}>
      <path d={path} fill="#fff" stroke={INK} strokeWidth={1.5} />
      <text x={cx} y={base - 6} textAnchor="middle" fontSize={9.5} fontWeight={700} fill={INK}>
        {node.type.toUpperCase()}
      </text>
    </g>
  );
}

/** A fault tree drawn as SVG: events in boxes, AND/OR gates as their symbols, basic events as circles. */
export function FaultTreeDiagram({
  top,
  nodes,
  rootCauses,
  title,
}: {
  top: string;
  nodes: FaultTreeNodeInput[];
  rootCauses: string[];
  title?: string;
}) {
  const l = layoutFaultTree(top, nodes, rootCauses);
  const spoken = nodes
    .map((n) =>
      n.type === 'basic'
        ? `${n.id} basic event: ${n.label}`
        : `${n.id} ${n.type.toUpperCase()} gate "${n.label}" over ${n.children.join(', ')}`,
    )
    .join('; ');
  return (
    <svg
      role="img"
      aria-label={`${title ?? 'Fault tree'}. Top event ${top}. ${spoken}. Root causes: ${rootCauses.join(', ')}.`}
      viewBox={`0 0 ${l.width} ${l.height}`}
      width="100%"
      style={{ maxWidth: l.width, height: 'auto' }}
      data-diagram="fault-tree"
    >
      {l.edges.map((e) => (
        <polyline
          key={`${e.from}-${e.to}`}
          points={e.points.map((p) => `${p.x},${p.y}`).join(' ')}
          fill="none"
          stroke={INK}
          strokeWidth={1.3}
        />
      ))}
      {l.nodes.map((n) => {
        const colour = n.rootCause ? ROOT : INK;
        if (n.type === 'basic') {
          return (
            <g key={n.id} data-node={n.id} data-type="basic" data-root-cause={n.rootCause ? 'true' : undefined}>
              <ellipse
                cx={n.x}
                cy={n.y}
                rx={n.width / 2}
                ry={n.height / 2}
                fill={n.rootCause ? '#fdecec' : '#f4f6f8'}
                stroke={colour}
                strokeWidth={n.rootCause ? 2.5 : 1.3}
              />
              <text x={n.x} y={n.y - 4} textAnchor="middle" fontSize={11} fontWeight={700} fill={colour}>
                {n.rootCause ? '★ ' : ''}
                {n.id}
                {n.probability !== undefined ? ` · p=${n.probability}` : ''}
              </text>
              <text x={n.x} y={n.y + 12} textAnchor="middle" fontSize={10.5} fill={INK}>
                <title>{n.label}</title>
                {clip(n.label, 24)}
              </text>
            </g>
          );
        }
        const boxH = n.height - 28;
        return (
          <g key={n.id} data-node={n.id} data-type={n.type}>
            <rect
              x={n.x - n.width / 2}
              y={n.y - n.height / 2}
              width={n.width}
              height={boxH}
              rx={3}
              fill={n.top ? '#e8f0fa' : '#fff'}
              stroke={INK}
              strokeWidth={n.top ? 2 : 1.3}
            />
            <text x={n.x} y={n.y - n.height / 2 + 16} textAnchor="middle" fontSize={11} fontWeight={700} fill={INK}>
              {n.top && n.id.toUpperCase() !== 'TOP' ? 'TOP EVENT · ' : ''}
              {n.id}
            </text>
            <text x={n.x} y={n.y - n.height / 2 + 33} textAnchor="middle" fontSize={10.5} fill={INK}>
              <title>{n.label}</title>
              {clip(n.label, 26)}
            </text>
            <line x1={n.x} y1={n.y - n.height / 2 + boxH} x2={n.x} y2={n.y + n.height / 2 - 26} stroke={INK} strokeWidth={1.3} />
            <GateSymbol node={n} />
          </g>
        );
      })}
    </svg>
  );
}
