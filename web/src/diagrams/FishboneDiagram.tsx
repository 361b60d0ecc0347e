import { layoutFishbone, type FishboneInput } from './fishbone-layout';

const INK = '#1f2933';
const ROOT = '#a61b1b';
const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
const categoryLabel = (c: string) => c.charAt(0).toUpperCase() + c.slice(1);

/** The fishbone drawn as SVG; the confirmed root cause is marked in red and bold, with its name in text. */
export function FishboneDiagram({ analysis, title }: { analysis: FishboneInput; title?: string }) {
  const l = layoutFishbone(analysis);
  const describedCauses = l.bones
    .map((b) => `${categoryLabel(b.category)}: ${b.causes.map((c) => c.text).join('; ') || 'none'}`)
    .join('. ');
  return (
    <svg
      role="img"
      aria-label={`${title ?? 'Fishbone diagram'}. Effect: ${analysis.effect}. ${describedCauses}.${analysis.rootCause ? ` Root cause (${analysis.rootCause.category}): ${analysis.rootCause.cause}.` : ''}`}
      viewBox={`0 0 ${l.width} ${l.height}`}
      width="100%"
      style={{ maxWidth: l.width, height: 'auto' }}
      data-diagram="fishbone"
    >
      <line x1={l.spine.x1} y1={l.spine.y1} x2={l.spine.x2} y2={l.spine.y2} stroke={INK} strokeWidth={3} />
      <rect x={l.head.x} y={l.head.y} width={l.head.width} height={l.head.height} rx={6} fill="#e8f0fa" stroke={INK} strokeWidth={1.5} />
      <foreignObject x={l.head.x + 6} y={l.head.y + 4} width={l.head.width - 12} height={l.head.height - 8}>
        <div
          style={{
            fontSize: 12,
            lineHeight: '15px',
            color: INK,
            overflow: 'hidden',
            height: '100%',
            display: 'flex',
            alignItems: 'center',
          }}
        >
          {clip(l.head.text, 110)}
        </div>
      </foreignObject>
      {l.bones.map((b) => (
        <g key={b.category} data-category={b.category}>
          <line x1={b.x1} y1={b.y1} x2={b.x2} y2={b.y2} stroke={INK} strokeWidth={2} />
          <text x={b.labelX} y={b.labelY} textAnchor="middle" fontSize={14} fontWeight={700} fill={INK}>
            {categoryLabel(b.category)}
          </text>
          {b.causes.map((c, i) => (
            <g key={i} data-root-cause={c.root ? 'true' : undefined}>
              <line x1={c.ribX} y1={c.y} x2={c.x} y2={c.y} stroke={c.root ? ROOT : INK} strokeWidth={c.root ? 2.5 : 1} />
              <text x={c.x - 4} y={c.y - 4} textAnchor="end" fontSize={11.5} fill={c.root ? ROOT : INK} fontWeight={c.root ? 700 : 400}>
                <title>{c.text}</title>
                {c.root ? '★ ' : ''}
                {clip(c.text, 26)}
              </text>
            </g>
          ))}
        </g>
      ))}
    </svg>
  );
}
