import { escapeXml, renderChartSvg, type ChartSvgInput, type ChartSvgPoint } from '../../monitoring/chart-svg';

/**
 * The chart image is served as image/svg+xml: a browser renders it only if it is well-formed XML,
 * and a lot or title from the data must never become markup. No XML parser is among the project's
 * dependencies, so this strict reader of the XML subset the chart uses (elements, attributes, text,
 * the five predefined entities and numeric references; nothing else) checks well-formedness.
 */
interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: Array<XmlElement | string>;
}

const NAME = '[A-Za-z_][A-Za-z0-9_.:-]*';
const ENTITY = /&(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);/g;

function unescape(text: string): string {
  if (/&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)/.test(text)) throw new Error(`a bare & in ${JSON.stringify(text)}`);
  const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
  return text.replace(ENTITY, (e) => {
    const body = e.slice(1, -1);
    if (body.startsWith('#x')) return String.fromCodePoint(parseInt(body.slice(2), 16));
    if (body.startsWith('#')) return String.fromCodePoint(parseInt(body.slice(1), 10));
    return named[body]!;
  });
}

function parseXml(xml: string): XmlElement {
  const tag = new RegExp(`<(/?)(${NAME})((?:\\s+${NAME}\\s*=\\s*"[^"<]*")*)\\s*(/?)>`, 'y');
  const attribute = new RegExp(`(${NAME})\\s*=\\s*"([^"<]*)"`, 'g');
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  let at = 0;
  while (at < xml.length) {
    const lt = xml.indexOf('<', at);
    const text = xml.slice(at, lt === -1 ? xml.length : lt);
    if (text) {
      if (text.includes('>')) throw new Error(`a bare > in text ${JSON.stringify(text)}`);
      if (!stack.length) {
        if (text.trim()) throw new Error('text outside the root element');
      } else stack[stack.length - 1]!.children.push(unescape(text));
    }
    if (lt === -1) break;
    tag.lastIndex = lt;
    const m = tag.exec(xml);
    if (!m) throw new Error(`not a tag at ${lt}: ${JSON.stringify(xml.slice(lt, lt + 60))}`);
    const [whole, closing, name, attrs, selfClosing] = m;
    at = lt + whole.length;
    if (closing) {
      if (attrs || selfClosing) throw new Error(`malformed end tag ${whole}`);
      const open = stack.pop();
      if (open?.name !== name) throw new Error(`</${name}> closes <${open?.name}>`);
      continue;
    }
    const attributes: Record<string, string> = {};
    for (const [, key, value] of attrs!.matchAll(attribute)) {
      if (key! in attributes) throw new Error(`attribute ${key} twice on <${name}>`);
      attributes[key!] = unescape(value!);
    }
    const element: XmlElement = { name: name!, attributes, children: [] };
    if (stack.length) stack[stack.length - 1]!.children.push(element);
    else if (root) throw new Error('a second root element');
    else root = element;
    if (!selfClosing) stack.push(element);
  }
  if (stack.length) throw new Error(`<${stack[stack.length - 1]!.name}> is never closed`);
  if (!root) throw new Error('no root element');
  return root;
}

const elements = (e: XmlElement): XmlElement[] => [e, ...e.children.flatMap((c) => (typeof c === 'string' ? [] : elements(c)))];
const textOf = (e: XmlElement): string => e.children.map((c) => (typeof c === 'string' ? c : textOf(c))).join('');

/** A u chart around 5 per 10,000 with limits from each batch's n; the 12th batch far above. */
function input(overrides: Partial<ChartSvgInput> = {}): ChartSvgInput {
  const points: ChartSvgPoint[] = Array.from({ length: 12 }, (_, i) => {
    const n = i % 2 ? 100_000 : 150_000;
    const sigma = Math.sqrt(5e-4 / n);
    return {
      label: `LOT-${String(i + 1).padStart(3, '0')}`,
      value: i === 11 ? 2e-3 : 5e-4 + (i % 3) * 2e-5,
      centre: 5e-4,
      lcl: Math.max(0, 5e-4 - 3 * sigma),
      ucl: 5e-4 + 3 * sigma,
    };
  });
  return {
    title: 'L3 · all products · Aggregation errors per unit (u chart)',
    valueLabel: 'Aggregation errors per unit',
    provisional: false,
    points,
    violations: [{ index: 11, ruleNumber: 1, description: '1 point beyond 3σ' }],
    baseline: { first: 0, last: 7 },
    ...overrides,
  };
}

describe('the well-formedness check of these tests', () => {
  it.each([
    ['an unclosed element', '<svg><g></svg>'],
    ['a bare ampersand', '<svg>a & b</svg>'],
    ['a bare < in an attribute', '<svg a="<"/>'],
    ['an unquoted attribute', '<svg a=1/>'],
    ['a duplicate attribute', '<svg a="1" a="2"/>'],
    ['two roots', '<svg/><svg/>'],
  ])('refuses %s', (_what, xml) => {
    expect(() => parseXml(xml)).toThrow();
  });
});

describe('renderChartSvg', () => {
  it('draws a well-formed SVG with a text alternative and nothing executable', () => {
    const svg = parseXml(renderChartSvg(input()));
    expect(svg.name).toBe('svg');
    expect(svg.attributes).toMatchObject({ xmlns: 'http://www.w3.org/2000/svg', role: 'img', 'aria-labelledby': 'chart-title chart-desc' });
    const all = elements(svg);
    expect(all.some((e) => e.name === 'script' || e.name === 'foreignObject' || e.name === 'style')).toBe(false);
    expect(all.flatMap((e) => Object.keys(e.attributes)).filter((a) => /^on/i.test(a) || /href$/i.test(a))).toEqual([]);

    const title = svg.children.find((c): c is XmlElement => typeof c !== 'string' && c.name === 'title')!;
    const desc = svg.children.find((c): c is XmlElement => typeof c !== 'string' && c.name === 'desc')!;
    expect(textOf(title)).toBe('L3 · all products · Aggregation errors per unit (u chart)');
    expect(textOf(desc)).toContain('12 batch(es)');
    expect(textOf(desc)).toContain('rule 1 (1 point beyond 3σ) at LOT-012');
    expect(textOf(desc)).toContain('Baseline: batches LOT-001 to LOT-008');
  });

  it('marks a violation in red with its rule number, at its point, and only there', () => {
    const svg = parseXml(renderChartSvg(input()));
    const marked = elements(svg).filter((e) => e.attributes.class === 'violation');
    expect(marked).toHaveLength(1);
    expect(marked[0]!.attributes.fill).toBe('#c92a2a');
    const [circle, label] = marked[0]!.children.filter((c): c is XmlElement => typeof c !== 'string');
    expect(label!.name).toBe('text');
    expect(textOf(label!)).toBe('1');
    expect(textOf(circle!)).toContain('LOT-012');
    // It stands at the 12th of 12 slots and above the others (the highest value).
    const points = elements(svg).filter((e) => e.name === 'circle');
    expect(points).toHaveLength(12);
    const xs = points.map((p) => Number(p.attributes.cx));
    const ys = points.map((p) => Number(p.attributes.cy));
    expect(Number(circle!.attributes.cx)).toBe(Math.max(...xs));
    expect(Number(circle!.attributes.cy)).toBe(Math.min(...ys));
  });

  it('gives two rules at one point one mark naming both', () => {
    const svg = parseXml(
      renderChartSvg(
        input({
          violations: [
            { index: 11, ruleNumber: 4, description: '8 points in a row on the same side of the centre line' },
            { index: 11, ruleNumber: 1, description: '1 point beyond 3σ' },
          ],
        }),
      ),
    );
    const marked = elements(svg).filter((e) => e.attributes.class === 'violation');
    expect(marked).toHaveLength(1);
    expect(textOf(marked[0]!.children.find((c): c is XmlElement => typeof c !== 'string' && c.name === 'text')!)).toBe('1,4');
  });

  it('steps the limits with each batch’s own n, shades the baseline, and dashes the phase I lines', () => {
    const approved = elements(parseXml(renderChartSvg(input())));
    const ucl = approved.find((e) => e.attributes.class === 'ucl')!.attributes.d!;
    expect(ucl.match(/V/g)).toHaveLength(11); // one step between each two of the 12 slots
    expect(approved.some((e) => e.attributes.class === 'baseline')).toBe(true);
    expect(approved.find((e) => e.attributes.class === 'centre')!.attributes['stroke-dasharray']).toBeUndefined();

    const phaseOne = elements(parseXml(renderChartSvg(input({ provisional: true, violations: [], baseline: null }))));
    expect(phaseOne.some((e) => e.attributes.class === 'baseline' || e.attributes.class === 'violation')).toBe(false);
    expect(phaseOne.find((e) => e.attributes.class === 'centre')!.attributes['stroke-dasharray']).toBe('6 4');
    expect(textOf(phaseOne.find((e) => e.name === 'desc')!)).toContain('provisional');
  });

  it('escapes every text from the data, so a lot or a title never becomes markup', () => {
    const hostile = `<script>alert("x")</script> & 'lot' ]]> <!-- -->`;
    const points = input().points.map((p, i) => (i === 11 ? { ...p, label: hostile } : p));
    const xml = renderChartSvg(input({ title: `Line <b onload="x()">&amp;`, valueLabel: 'a"b', points }));
    const svg = parseXml(xml);
    const all = elements(svg);
    expect(all.some((e) => e.name === 'script' || e.name === 'b')).toBe(false);
    expect(xml).not.toContain('<script');
    expect(textOf(all.find((e) => e.name === 'title')!)).toBe('Line <b onload="x()">&amp;');
    // The lot is a label of the x axis, named in the violation's tooltip and in the text alternative, intact each time.
    expect(all.filter((e) => e.name === 'text').map(textOf)).toContain(hostile);
    expect(textOf(all.find((e) => e.name === 'desc')!)).toContain(`at ${hostile}`);
  });

  it('drops characters XML cannot hold instead of writing an unreadable document', () => {
    expect(escapeXml('LOT\u0000-1\u0007\ud800')).toBe('LOT-1\ufffd');
    expect(() => parseXml(renderChartSvg(input({ title: 'a\u0000b\u001fc' })))).not.toThrow();
  });

  it('draws an empty chart (a chart created before its first point) without failing', () => {
    const svg = parseXml(renderChartSvg(input({ points: [], violations: [], baseline: null, provisional: true })));
    expect(textOf(elements(svg).find((e) => e.name === 'desc')!)).toContain('0 batch(es)');
  });

  it('leaves a gap where a batch inspected nothing', () => {
    const points = input().points.map((p, i) => (i === 5 ? { ...p, value: null, lcl: null, ucl: null } : p));
    const all = elements(parseXml(renderChartSvg(input({ points }))));
    expect(all.filter((e) => e.name === 'circle')).toHaveLength(11);
    expect(all.find((e) => e.attributes.class === 'ucl')!.attributes.d!.match(/M/g)).toHaveLength(2);
    expect(all.find((e) => e.attributes.class === 'series')!.attributes.d!.match(/M/g)).toHaveLength(2);
  });
});
