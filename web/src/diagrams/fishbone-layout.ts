/**
 * Layout of an Ishikawa (fishbone) diagram over the six categories: the effect at the head on the
 * right, the spine, three bones above and three below, each cause a short rib on its bone.
 * Pure geometry, no DOM, so the component tests check it directly.
 */
export const FISHBONE_ORDER = ['materials', 'method', 'machine', 'man', 'measurement', 'environment'] as const;
export type FishboneCategory = (typeof FISHBONE_ORDER)[number];

export interface FishboneInput {
  effect: string;
  causes: Partial<Record<FishboneCategory, string[]>>;
  rootCause?: { category: FishboneCategory; cause: string };
}

export interface PlacedCause {
  text: string;
  /** The point on the bone the rib leaves from, and where its text ends. */
  x: number;
  y: number;
  ribX: number;
  root: boolean;
}

export interface PlacedBone {
  category: FishboneCategory;
  side: 'top' | 'bottom';
  /** From the spine (x1, y1) out to the category label (x2, y2). */
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  labelX: number;
  labelY: number;
  causes: PlacedCause[];
}

export interface FishboneLayout {
  width: number;
  height: number;
  spine: { x1: number; y1: number; x2: number; y2: number };
  head: { x: number; y: number; width: number; height: number; text: string };
  bones: PlacedBone[];
}

export const FISHBONE_METRICS = { column: 250, row: 28, rib: 150, margin: 24, headWidth: 190, headHeight: 64, minBone: 96, label: 22 };

export function layoutFishbone(input: FishboneInput): FishboneLayout {
  const m = FISHBONE_METRICS;
  const countOf = (c: FishboneCategory) => input.causes[c]?.length ?? 0;
  const boneLength = (cats: readonly FishboneCategory[]) => Math.max(m.minBone, Math.max(0, ...cats.map(countOf)) * m.row + m.row);
  const top = FISHBONE_ORDER.slice(0, 3);
  const bottom = FISHBONE_ORDER.slice(3);
  const topLen = boneLength(top);
  const bottomLen = boneLength(bottom);
  const spineY = m.margin + m.label + topLen;
  const spineX1 = m.margin;
  const spineX2 = m.margin + 3 * m.column + m.rib / 2 + 48;
  const width = spineX2 + m.headWidth + m.margin;
  const height = spineY + bottomLen + m.label + m.margin;

  const bones: PlacedBone[] = FISHBONE_ORDER.map((category, i) => {
    const side = i < 3 ? 'top' : 'bottom';
    const column = i % 3;
    const length = side === 'top' ? topLen : bottomLen;
    const dir = side === 'top' ? -1 : 1;
    // The bone meets the spine at the right of its column and slants back to the left.
    const x1 = spineX1 + (column + 1) * m.column + m.rib / 2;
    const y1 = spineY;
    const x2 = x1 - length * 0.45;
    const y2 = spineY + dir * length;
    const list = input.causes[category] ?? [];
    const causes = list.map((text, j) => {
      // Causes from the outer end inwards, one row apart.
      const t = ((j + 1) * m.row) / length;
      const y = y2 - dir * t * length;
      const x = x2 + (x1 - x2) * t;
      return { text, x, y, ribX: x - m.rib, root: input.rootCause?.category === category && input.rootCause.cause === text };
    });
    return { category, side, x1, y1, x2, y2, labelX: x2, labelY: side === 'top' ? y2 - 8 : y2 + m.label - 4, causes };
  });

  return {
    width,
    height,
    spine: { x1: spineX1, y1: spineY, x2: spineX2, y2: spineY },
    head: { x: spineX2, y: spineY - m.headHeight / 2, width: m.headWidth, height: m.headHeight, text: input.effect },
    bones,
  };
}
