import { formatSgtinUrn, withCheckDigit } from '../../domain/gs1';
import type { DiscrepancyCategory } from '../../domain/reconciliation-summary';
import { permute32, Rng } from './rng';

/**
 * What the generator plants, one kind per way a batch goes wrong (the discrepancies
 * reconciliation/reconcile.ts defines). Each kind is built so
 * that it causes exactly one discrepancy and disturbs nothing else: a structural plant takes the
 * place of a unit that was never produced, so its case still holds exactly its packing level.
 */
export const PLANT_KINDS = [
  /** A unit of this batch commissioned a second time (a re-sent commissioning event). */
  'duplicate_serial',
  /** A unit of this batch commissioned again in another batch of the same GTIN. */
  'duplicate_serial_other_batch',
  /** A unit packed into its own case and also into a second case. */
  'child_two_parents',
  /** A case holding a unit of another batch and GTIN. */
  'foreign_child',
  /** A case holding one unit fewer than its packing level. */
  'case_count',
  /** A commissioned unit shipped loose, never packed, though the product requires aggregation. */
  'unaggregated',
  /** A packed and shipped unit left out of the repository report. */
  'missing_report',
  /** A unit packed into a case but absent from the commissioning records. */
  'lost_packaging',
  /** A unit commissioned and then nothing. */
  'unaccounted',
] as const;
export type PlantKind = (typeof PLANT_KINDS)[number];

export const CATEGORY_OF: Record<PlantKind, DiscrepancyCategory> = {
  duplicate_serial: 'duplicate_serial',
  duplicate_serial_other_batch: 'duplicate_serial',
  child_two_parents: 'aggregation_error',
  foreign_child: 'aggregation_error',
  case_count: 'aggregation_error',
  unaggregated: 'aggregation_error',
  missing_report: 'missing_report',
  lost_packaging: 'lost_packaging',
  unaccounted: 'unaccounted',
};

/** Ordinary, correct outcomes of a packaging run that the balance must count. */
export const OUTCOME_KINDS = ['rejected', 'sampled', 'destroyed'] as const;
export type OutcomeKind = (typeof OUTCOME_KINDS)[number];

export interface GeneratorConfig {
  seed: number;
  /** Unit positions of the run: cases × units per case; every position is a unit unless a plant empties it. */
  units: number;
  unitsPerCase: number;
  casesPerPallet: number;
  /** GS1 company prefix of the brand owner (its length is the URN partition). */
  companyPrefix: string;
  lot: string;
  expiry: string;
  line: string;
  /** How many of each plant; see `countsFromRate` for a rate instead. */
  plants: Partial<Record<PlantKind, number>>;
  outcomes: Partial<Record<OutcomeKind, number>>;
  eventsPerDocument: number;
  /** 'urn' (default) or 'digital-link' spelling of unit and package identifiers. */
  identifiers: 'urn' | 'digital-link';
  /** Base of event times (ISO); each event is 10 ms after the previous one. */
  startTime: string;
}

export const DEFAULT_CONFIG: Omit<GeneratorConfig, 'seed' | 'units'> = {
  unitsPerCase: 20,
  casesPerPallet: 50,
  companyPrefix: '4012345',
  lot: 'LOT-2026-0042',
  expiry: '2028-11-30',
  line: 'L3',
  plants: {},
  outcomes: {},
  eventsPerDocument: 5000,
  identifiers: 'urn',
  startTime: '2026-11-23T06:00:00.000Z',
};

/** Spreads a total discrepancy rate evenly over every plant kind (at least one of each when rate > 0). */
export function countsFromRate(units: number, rate: number): Record<PlantKind, number> {
  const each = rate > 0 ? Math.max(1, Math.round((units * rate) / PLANT_KINDS.length)) : 0;
  return Object.fromEntries(PLANT_KINDS.map((k) => [k, each])) as Record<PlantKind, number>;
}

export interface Product {
  gtin: string;
  name: string;
  unitsPerCase: number;
  casesPerPallet: number;
  aggregationRequired: boolean;
}

export interface BatchMaster {
  lot: string;
  gtin: string;
  expiry: string;
  plannedQuantity: number;
  line: string;
}

/** One expected discrepancy, in the identifiers reconciliation reports. */
export interface PlantedDiscrepancy {
  category: DiscrepancyCategory;
  kind: PlantKind;
  /** The unit concerned (AI 21 value) and its SGTIN URN; absent for a case-level discrepancy. */
  serial?: string;
  sgtin?: string;
  gtin?: string;
  /** The case(s) concerned, as SSCC-18 and URN. */
  sscc?: string[];
  detail: string;
}

/** Position of a unit slot: slot s is unit s % unitsPerCase of case floor(s / unitsPerCase). */
export interface Plan {
  config: GeneratorConfig;
  products: [Product, Product];
  batches: [BatchMaster, BatchMaster, BatchMaster];
  cases: number;
  pallets: number;
  /** Slot → plant for plants that sit on a slot. */
  slotPlants: Map<number, PlantKind>;
  /** For child_two_parents: the slot in the second case → the slot whose unit is packed there too. */
  secondParentOf: Map<number, number>;
  /** Extra units beyond the slots (index ≥ units), with what happens to them. */
  extras: Array<{ index: number; kind: 'unaggregated' | 'unaccounted' | OutcomeKind }>;
  /** Units of the foreign batch, one per foreign_child slot, by slot. */
  foreignUnitOf: Map<number, number>;
  expected: PlantedDiscrepancy[];
  balance: { commissioned: number; packed: number; rejected: number; sampled: number; destroyed: number; unaccounted: number };
}

export function gtinOf(companyPrefix: string, itemRef: number): string {
  return withCheckDigit(`0${companyPrefix}${String(itemRef).padStart(12 - companyPrefix.length, '0')}`);
}

export function ssccOf(companyPrefix: string, extension: number, ref: number): string {
  return withCheckDigit(`${extension}${companyPrefix}${String(ref).padStart(16 - companyPrefix.length, '0')}`);
}

/** Serial of unit i: ten characters, a seed-derived prefix and a keyed permutation of i (unique for i < 2^32). */
export function serialOf(seed: number, i: number): string {
  return `${(permute32(seed, 0x5bd1e995) % 46656).toString(36).toUpperCase().padStart(3, '0')}${permute32(i, seed).toString(36).toUpperCase().padStart(7, '0')}`;
}

export const caseSscc = (cfg: GeneratorConfig, c: number): string =>
  ssccOf(cfg.companyPrefix, 0, (permute32(cfg.seed, 1) % 1_000_000) * 1000 + c);
export const palletSscc = (cfg: GeneratorConfig, p: number): string =>
  ssccOf(cfg.companyPrefix, 1, (permute32(cfg.seed, 2) % 1_000_000) * 1000 + p);

export function plan(config: GeneratorConfig): Plan {
  const { units, unitsPerCase: upc, casesPerPallet, companyPrefix, seed } = config;
  if (!Number.isInteger(units) || units < upc || units % upc !== 0) {
    throw new Error(
      `units (${units}) must be a positive multiple of unitsPerCase (${upc}): a partial last case would itself be a count error`,
    );
  }
  const cases = units / upc;
  const pallets = Math.ceil(cases / casesPerPallet);
  const n = (k: PlantKind) => config.plants[k] ?? 0;
  const structural: PlantKind[] = ['child_two_parents', 'foreign_child', 'case_count', 'lost_packaging'];
  const structuralTotal = structural.reduce((s, k) => s + n(k), 0);
  if (structuralTotal * 2 > cases) throw new Error(`too many case-level plants (${structuralTotal}) for ${cases} cases`);
  const slotTotal = structuralTotal * 2 + n('duplicate_serial') + n('duplicate_serial_other_batch') + n('missing_report');
  if (slotTotal * 4 > units) throw new Error(`too many plants (${slotTotal}) for ${units} units`);

  const rng = new Rng(seed);
  const gtin = gtinOf(companyPrefix, 10000 + (permute32(seed, 3) % 80000));
  const foreignGtin = gtinOf(companyPrefix, Number(gtin.slice(8, 13)) + 1);
  const products: [Product, Product] = [
    {
      gtin,
      name: 'Examplomab 40 mg solution for injection, 1 pre-filled pen',
      unitsPerCase: upc,
      casesPerPallet,
      aggregationRequired: true,
    },
    {
      gtin: foreignGtin,
      name: 'Examplomab 80 mg solution for injection, 1 pre-filled pen',
      unitsPerCase: upc,
      casesPerPallet,
      aggregationRequired: true,
    },
  ];
  const foreignLot = `${config.lot}-X`;
  const otherLot = `${config.lot}-R`;
  const batches: [BatchMaster, BatchMaster, BatchMaster] = [
    { lot: config.lot, gtin, expiry: config.expiry, plannedQuantity: units, line: config.line },
    { lot: foreignLot, gtin: foreignGtin, expiry: config.expiry, plannedQuantity: Math.max(1, n('foreign_child')), line: config.line },
    { lot: otherLot, gtin, expiry: config.expiry, plannedQuantity: Math.max(1, n('duplicate_serial_other_batch')), line: config.line },
  ];

  // Case-level plants each take a case of their own; the unit they displace is never produced.
  const usedCases = new Set<number>();
  const usedSlots = new Set<number>();
  const slotPlants = new Map<number, PlantKind>();
  const secondParentOf = new Map<number, number>();
  const foreignUnitOf = new Map<number, number>();
  const pickCase = (): number => {
    for (;;) {
      const c = rng.below(cases);
      if (!usedCases.has(c)) {
        usedCases.add(c);
        return c;
      }
    }
  };
  const pickSlot = (): number => {
    for (;;) {
      const s = rng.below(units);
      if (!usedSlots.has(s) && !usedCases.has(Math.floor(s / upc))) {
        usedSlots.add(s);
        return s;
      }
    }
  };
  for (const kind of structural) {
    for (let i = 0; i < n(kind); i++) {
      const slot = pickCase() * upc + rng.below(upc);
      usedSlots.add(slot);
      slotPlants.set(slot, kind);
    }
  }
  // The doubly packed units come from cases without plants, so their first case stays correct.
  for (const [slot, kind] of slotPlants) if (kind === 'child_two_parents') secondParentOf.set(slot, pickSlot());
  for (const kind of ['duplicate_serial', 'duplicate_serial_other_batch', 'missing_report'] as const) {
    for (let i = 0; i < n(kind); i++) slotPlants.set(pickSlot(), kind);
  }

  const extras: Plan['extras'] = [];
  let next = units;
  for (const kind of ['unaggregated', 'unaccounted'] as const) for (let i = 0; i < n(kind); i++) extras.push({ index: next++, kind });
  for (const kind of OUTCOME_KINDS) for (let i = 0; i < (config.outcomes[kind] ?? 0); i++) extras.push({ index: next++, kind });
  for (const [slot, kind] of [...slotPlants].sort((a, b) => a[0] - b[0])) if (kind === 'foreign_child') foreignUnitOf.set(slot, next++);

  const sgtin = (g: string, serial: string) => formatSgtinUrn(g, serial, companyPrefix.length);
  const expected: PlantedDiscrepancy[] = [];
  const unit = (g: string, i: number) => ({ gtin: g, serial: serialOf(seed, i), sgtin: sgtin(g, serialOf(seed, i)) });
  for (const [slot, kind] of [...slotPlants].sort((a, b) => a[0] - b[0])) {
    const theCase = caseSscc(config, Math.floor(slot / upc));
    switch (kind) {
      case 'duplicate_serial':
        expected.push({ category: 'duplicate_serial', kind, ...unit(gtin, slot), detail: 'commissioned twice in this batch' });
        break;
      case 'duplicate_serial_other_batch':
        expected.push({ category: 'duplicate_serial', kind, ...unit(gtin, slot), detail: `also commissioned in batch ${otherLot}` });
        break;
      case 'missing_report':
        expected.push({
          category: 'missing_report',
          kind,
          ...unit(gtin, slot),
          sscc: [theCase],
          detail: 'shipped but not in the repository report',
        });
        break;
      case 'lost_packaging':
        expected.push({ category: 'lost_packaging', kind, ...unit(gtin, slot), sscc: [theCase], detail: 'packed but never commissioned' });
        break;
      case 'case_count':
        expected.push({
          category: 'aggregation_error',
          kind,
          sscc: [theCase],
          detail: `case holds ${upc - 1} units; packing level is ${upc}`,
        });
        break;
      case 'foreign_child': {
        const f = foreignUnitOf.get(slot) as number;
        expected.push({
          category: 'aggregation_error',
          kind,
          ...unit(foreignGtin, f),
          sscc: [theCase],
          detail: `case holds a unit of batch ${foreignLot}`,
        });
        break;
      }
      case 'child_two_parents': {
        const x = secondParentOf.get(slot) as number;
        expected.push({
          category: 'aggregation_error',
          kind,
          ...unit(gtin, x),
          sscc: [caseSscc(config, Math.floor(x / upc)), theCase].sort(),
          detail: 'packed into two cases',
        });
        break;
      }
    }
  }
  for (const e of extras) {
    if (e.kind === 'unaggregated')
      expected.push({
        category: 'aggregation_error',
        kind: 'unaggregated',
        ...unit(gtin, e.index),
        detail: 'shipped loose; the product requires aggregation',
      });
    if (e.kind === 'unaccounted')
      expected.push({ category: 'unaccounted', kind: 'unaccounted', ...unit(gtin, e.index), detail: 'commissioned and then nothing' });
  }

  const emptied = n('case_count') + n('lost_packaging') + n('foreign_child') + n('child_two_parents');
  const commissionedSlots = units - emptied;
  const outcome = (k: OutcomeKind) => config.outcomes[k] ?? 0;
  const balance = {
    commissioned: commissionedSlots + extras.length,
    packed: commissionedSlots,
    rejected: outcome('rejected'),
    sampled: outcome('sampled'),
    destroyed: outcome('destroyed'),
    // Neither packed nor taken out of the batch: the loose-shipped units and the forgotten ones.
    unaccounted: n('unaggregated') + n('unaccounted'),
  };
  return { config, products, batches, cases, pallets, slotPlants, secondParentOf, extras, foreignUnitOf, expected, balance };
}
