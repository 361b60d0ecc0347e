import type { SpcChartKind } from '../domain/spc';
import type { ChartDetail } from './charts';

/**
 * A control chart as a standalone SVG image, pure and deterministic: the points joined in series
 * order, the centre line, the limits stepped per point (each batch has its own from its own n),
 * violations in red with the number of the rule (Western Electric 1–4), the approved baseline's
 * batches shaded, the x axis labelled with lots. A <title> and a <desc> carry a text alternative
 * (role="img"), and every text from the data is escaped; no script, no external reference, no
 * style sheet (presentation attributes only, which a Content-Security-Policy does not block).
 */

export interface ChartSvgPoint {
  /** The x axis label: the batch's lot. */
  label: string;
  value: number | null;
  centre: number | null;
  lcl: number | null;
  ucl: number | null;
}

export interface ChartSvgViolation {
  /** The point that completed the pattern. */
  index: number;
  /** 1–4, printed by the point. */
  ruleNumber: number;
  description: string;
}

export interface ChartSvgInput {
  title: string;
  /** What is plotted, for the y axis: "Aggregation errors per unit". */
  valueLabel: string;
  /** Phase I: centre line and limits drawn dashed and said to be provisional. */
  provisional: boolean;
  points: ChartSvgPoint[];
  violations: ChartSvgViolation[];
  /** Indices (first, last) of the baseline's batches, shaded; null when there is none. */
  baseline: { first: number; last: number } | null;
  /** Said in the text alternative when there are no limits to draw. */
  note?: string | null;
}

const WIDTH = 960;
const HEIGHT = 420;
const MARGIN = { top: 48, right: 24, bottom: 112, left: 88 };
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;
/** Lots printed on the x axis at most; others are skipped evenly (the text alternative and the JSON have them all). */
const MAX_X_LABELS = 40;

const RED = '#c92a2a';
const BLUE = '#1c7ed6';
const GREY = '#495057';

/** Text and attribute values, escaped for XML; characters XML 1.0 cannot hold at all are dropped. */
export function escapeXml(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** A value as read on the chart: three significant digits, in exponent form when very small. */
export function formatValue(v: number): string {
  if (v === 0) return '0';
  const abs = Math.abs(v);
  return abs < 1e-3 || abs >= 1e6 ? v.toExponential(2) : String(Number(v.toPrecision(3)));
}

const num = (v: number) => String(Math.round(v * 100) / 100);

export function renderChartSvg(input: ChartSvgInput): string {
  const { points, violations } = input;
  const count = points.length;
  const step = count > 0 ? PLOT_W / count : PLOT_W;
  const x = (i: number) => MARGIN.left + step * (i + 0.5);
  const top = Math.max(
    0,
    ...points.flatMap((p) => [p.value, p.ucl, p.centre].filter((v): v is number => v !== null && Number.isFinite(v))),
  );
  const yMax = top > 0 ? top * 1.1 : 1;
  const y = (v: number) => MARGIN.top + PLOT_H * (1 - Math.min(Math.max(v, 0), yMax) / yMax);
  const out: string[] = [];

  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-labelledby="chart-title chart-desc" font-family="sans-serif" font-size="12">`,
    `<title id="chart-title">${escapeXml(input.title)}</title>`,
    `<desc id="chart-desc">${escapeXml(textAlternative(input))}</desc>`,
    `<rect x="0" y="0" width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
  );

  if (input.baseline && count > 0) {
    const from = MARGIN.left + step * input.baseline.first;
    const width = step * (input.baseline.last - input.baseline.first + 1);
    out.push(
      `<g class="baseline"><rect x="${num(from)}" y="${MARGIN.top}" width="${num(width)}" height="${PLOT_H}" fill="#e7f5ff"/>`,
      `<text x="${num(from + 4)}" y="${MARGIN.top + 14}" fill="${BLUE}">Baseline</text></g>`,
    );
  }

  // Axes and the y scale.
  out.push(
    `<g class="axes" stroke="${GREY}" stroke-width="1">`,
    `<line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${MARGIN.top + PLOT_H}"/>`,
    `<line x1="${MARGIN.left}" y1="${MARGIN.top + PLOT_H}" x2="${MARGIN.left + PLOT_W}" y2="${MARGIN.top + PLOT_H}"/>`,
    `</g>`,
  );
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * yMax);
  out.push(`<g class="y-axis" fill="${GREY}" text-anchor="end">`);
  for (const t of ticks) {
    out.push(
      `<line x1="${MARGIN.left - 4}" y1="${num(y(t))}" x2="${MARGIN.left}" y2="${num(y(t))}" stroke="${GREY}"/>`,
      `<text x="${MARGIN.left - 8}" y="${num(y(t) + 4)}">${escapeXml(formatValue(t))}</text>`,
    );
  }
  out.push(
    `<text transform="translate(16 ${num(MARGIN.top + PLOT_H / 2)}) rotate(-90)" text-anchor="middle">${escapeXml(input.valueLabel)}</text>`,
    `</g>`,
  );

  const labelEvery = Math.max(1, Math.ceil(count / MAX_X_LABELS));
  const violated = new Map<number, number[]>();
  for (const v of violations) violated.set(v.index, [...new Set([...(violated.get(v.index) ?? []), v.ruleNumber])].sort());
  out.push(`<g class="x-axis" fill="${GREY}" text-anchor="end">`);
  points.forEach((p, i) => {
    if (i % labelEvery !== 0 && !violated.has(i)) return;
    const ly = MARGIN.top + PLOT_H + 12;
    out.push(`<text transform="translate(${num(x(i))} ${ly}) rotate(-60)">${escapeXml(p.label)}</text>`);
  });
  out.push(`<text x="${num(MARGIN.left + PLOT_W / 2)}" y="${HEIGHT - 6}" text-anchor="middle">Batch (lot), in series order</text>`, `</g>`);

  const dash = input.provisional ? ' stroke-dasharray="6 4"' : '';
  out.push(
    `<path class="centre" d="${stepped(points, 'centre', x, y, step)}" fill="none" stroke="#2b8a3e" stroke-width="1.5"${dash}/>`,
    `<path class="ucl" d="${stepped(points, 'ucl', x, y, step)}" fill="none" stroke="${RED}" stroke-width="1"${dash}/>`,
    `<path class="lcl" d="${stepped(points, 'lcl', x, y, step)}" fill="none" stroke="${RED}" stroke-width="1"${dash}/>`,
  );

  // The points, joined in series order (a point with nothing inspected interrupts the line).
  out.push(`<path class="series" d="${polyline(points, x, y)}" fill="none" stroke="${BLUE}" stroke-width="1"/>`);
  out.push(`<g class="points">`);
  points.forEach((p, i) => {
    if (p.value === null) return;
    const rules = violated.get(i);
    const cx = num(x(i));
    const cy = num(y(p.value));
    if (!rules) {
      out.push(
        `<circle cx="${cx}" cy="${cy}" r="3" fill="${BLUE}"><title>${escapeXml(`${p.label}: ${formatValue(p.value)}`)}</title></circle>`,
      );
      return;
    }
    const said = violations.filter((v) => v.index === i).map((v) => `rule ${v.ruleNumber}: ${v.description}`);
    out.push(
      `<g class="violation" fill="${RED}"><circle cx="${cx}" cy="${cy}" r="5"><title>${escapeXml(`${p.label}: ${formatValue(p.value)}; ${said.join('; ')}`)}</title></circle>`,
      `<text x="${cx}" y="${num(Math.max(MARGIN.top - 4, y(p.value) - 9))}" text-anchor="middle" font-weight="bold">${escapeXml(rules.join(','))}</text></g>`,
    );
  });
  out.push(`</g>`);

  out.push(
    `<text x="${MARGIN.left}" y="20" font-size="15" font-weight="bold" fill="#212529">${escapeXml(input.title)}</text>`,
    `<text x="${MARGIN.left}" y="38" fill="${GREY}">${escapeXml(legend(input))}</text>`,
    `</svg>`,
  );
  return out.join('\n');
}

/** A stepped line: each point's value across its own slot, joined by vertical steps; broken where a point has none. */
function stepped(
  points: readonly ChartSvgPoint[],
  key: 'centre' | 'lcl' | 'ucl',
  x: (i: number) => number,
  y: (v: number) => number,
  step: number,
): string {
  const parts: string[] = [];
  let drawing = false;
  points.forEach((p, i) => {
    const v = p[key];
    if (v === null || !Number.isFinite(v)) {
      drawing = false;
      return;
    }
    const left = num(x(i) - step / 2);
    const right = num(x(i) + step / 2);
    parts.push(drawing ? `V${num(y(v))} H${right}` : `M${left} ${num(y(v))} H${right}`);
    drawing = true;
  });
  return parts.join(' ') || 'M0 0';
}

function polyline(points: readonly ChartSvgPoint[], x: (i: number) => number, y: (v: number) => number): string {
  const parts: string[] = [];
  let drawing = false;
  points.forEach((p, i) => {
    if (p.value === null) {
      drawing = false;
      return;
    }
    parts.push(`${drawing ? 'L' : 'M'}${num(x(i))} ${num(y(p.value))}`);
    drawing = true;
  });
  return parts.join(' ') || 'M0 0';
}

function legend(input: ChartSvgInput): string {
  const limits = input.provisional ? 'provisional centre line and limits (phase I, not approved)' : 'centre line and control limits';
  return `Green: ${limits}; red: limits and rule violations, marked with the rule number (1–4).`;
}

function textAlternative(input: ChartSvgInput): string {
  const { points, violations } = input;
  const drawn = points.filter((p) => p.value !== null).length;
  const centre = points.find((p) => p.centre !== null)?.centre;
  const sentences = [
    `${input.valueLabel}: ${points.length} batch(es), ${drawn} with units inspected.`,
    input.provisional
      ? 'Phase I: the centre line and limits are provisional, from the points so far; no rule is judged yet.'
      : 'Phase II: judged against the approved baseline.',
  ];
  if (centre !== undefined && centre !== null) sentences.push(`Centre line ${formatValue(centre)}.`);
  if (input.note) sentences.push(input.note);
  if (input.baseline) sentences.push(`Baseline: batches ${points[input.baseline.first]?.label} to ${points[input.baseline.last]?.label}.`);
  sentences.push(
    violations.length
      ? `${violations.length} violation(s): ${violations.map((v) => `rule ${v.ruleNumber} (${v.description}) at ${points[v.index]?.label ?? `point ${v.index + 1}`}`).join('; ')}.`
      : 'No rule violation.',
  );
  return sentences.join(' ');
}

const KIND_NAMES: Record<SpcChartKind, string> = { laney_p: 'Laney p′ chart', p: 'p chart', laney_u: 'Laney u′ chart', u: 'u chart' };

/** The SVG of a chart as chartDetail gives it. */
export function chartSvg(detail: ChartDetail): string {
  const baselineIndices = detail.points.filter((p) => p.inBaseline).map((p) => p.index);
  const scope = detail.gtin ? `GTIN ${detail.gtin}` : 'all products';
  return renderChartSvg({
    title: `${detail.line} · ${scope} · ${detail.label}${detail.kind ? ` (${KIND_NAMES[detail.kind]})` : ''}`,
    valueLabel: detail.label,
    provisional: detail.provisional,
    points: detail.points.map((p) => ({ label: p.lot, value: p.value, centre: p.centre, lcl: p.lcl, ucl: p.ucl })),
    violations: detail.violations.map((v) => ({ index: v.index, ruleNumber: v.ruleNumber, description: v.description })),
    baseline: baselineIndices.length ? { first: baselineIndices[0]!, last: baselineIndices[baselineIndices.length - 1]! } : null,
    note: detail.limitsProblem,
  });
}
