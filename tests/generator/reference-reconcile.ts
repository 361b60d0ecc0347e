import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEpc, unwrap } from '../../domain/gs1';
import type { Manifest } from '../../lib/generator/write';

/**
 * An independent, in-memory reading of what the generator wrote, for small batches only: it
 * derives the balance and the discrepancies from the documents themselves, so a test can hold the
 * manifest to what is really in the files.
 */
export interface Found {
  balance: Manifest['balance'];
  keys: string[];
  events: number;
  epcs: number;
  reported: number;
}

export const keyOf = (d: { category: string; sgtin?: string; sscc?: string[] }): string =>
  `${d.category}|${d.sgtin ?? ''}|${[...(d.sscc ?? [])].sort().join(',')}`;

type Ev = Record<string, unknown> & { type: string; bizStep?: string; action?: string };

export function referenceReconcile(dir: string, manifest: Manifest): Found {
  const lot = manifest.config.lot;
  const gtin = manifest.products[0].gtin;
  const upc = manifest.config.unitsPerCase;
  const cpl = manifest.config.companyPrefix.length;
  const key = (uri: string) => {
    const e = unwrap(parseEpc(uri));
    if (e.kind === 'sgtin') return { unit: `${e.gtin}.${e.serial}`, gtin: e.gtin, serial: e.serial };
    if (e.kind === 'sscc') return { pkg: e.sscc };
    throw new Error(`unexpected ${uri}`);
  };
  const urn = (unit: string) => {
    const [g, s] = [unit.slice(0, 14), unit.slice(15)];
    return `urn:epc:id:sgtin:${g.slice(1, 1 + cpl)}.${g[0]}${g.slice(1 + cpl, 13)}.${s}`;
  };
  const commissions = new Map<string, number>();
  const otherLots = new Set<string>();
  const parents = new Map<string, Set<string>>();
  const caseChildren = new Map<string, string[]>();
  const packages = new Map<string, string[]>();
  const shippedPkgs = new Set<string>();
  const shippedUnits = new Set<string>();
  const removed = new Map<string, string>();
  let events = 0;
  let epcs = 0;

  for (const f of manifest.files.documents) {
    const doc = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as { epcisBody: { eventList: Ev[] } };
    for (const ev of doc.epcisBody.eventList) {
      events++;
      const list = (ev.epcList ?? ev.childEPCs ?? []) as string[];
      epcs += list.length;
      if (ev.type === 'ObjectEvent' && ev.action === 'ADD') {
        const evLot = (ev.ilmd as Record<string, string>)['cbvmda:lotNumber'];
        for (const u of list.map(key)) {
          if (evLot === lot) commissions.set(u.unit as string, (commissions.get(u.unit as string) ?? 0) + 1);
          else otherLots.add(u.unit as string);
        }
      } else if (ev.type === 'AggregationEvent') {
        const parent = key(ev.parentID as string).pkg as string;
        const kids = list.map(key);
        packages.set(
          parent,
          kids.map((k) => (k.unit ?? k.pkg) as string),
        );
        for (const k of kids) {
          if (k.unit) {
            const set = parents.get(k.unit) ?? new Set<string>();
            set.add(parent);
            parents.set(k.unit, set);
            caseChildren.set(parent, [...(caseChildren.get(parent) ?? []), k.unit]);
          }
        }
      } else if (ev.type === 'ObjectEvent' && ev.bizStep === 'shipping') {
        for (const k of list.map(key)) {
          if (k.pkg) shippedPkgs.add(k.pkg);
          else shippedUnits.add(k.unit as string);
        }
      } else if (ev.type === 'ObjectEvent' && ev.action === 'DELETE') {
        for (const k of list.map(key)) removed.set(k.unit as string, ev.bizStep as string);
      }
    }
  }
  const report = JSON.parse(readFileSync(path.join(dir, manifest.files.repositoryReports[0] as string), 'utf8')) as { serials: string[] };
  const reported = new Set(report.serials.map((s) => `${gtin}.${s}`));

  // Units shipped through their case and pallet.
  for (const [pallet, kids] of packages)
    if (shippedPkgs.has(pallet)) for (const c of kids) for (const u of packages.get(c) ?? []) shippedUnits.add(u);

  const keys: string[] = [];
  const add = (category: string, unit?: string, sscc?: string[]) => keys.push(keyOf({ category, sgtin: unit && urn(unit), sscc }));
  const batchCases = [...caseChildren].filter(([, kids]) => kids.some((u) => commissions.has(u)));
  for (const [unit, n] of commissions) {
    if (n > 1 || otherLots.has(unit)) add('duplicate_serial', unit);
    const ps = parents.get(unit);
    if (ps && ps.size > 1) add('aggregation_error', unit, [...ps]);
    if (!ps && !removed.has(unit) && shippedUnits.has(unit)) add('aggregation_error', unit);
    if (!ps && !removed.has(unit) && !shippedUnits.has(unit)) add('unaccounted', unit);
    if (shippedUnits.has(unit) && !reported.has(unit)) add('missing_report', unit, ps && [...ps]);
  }
  for (const [sscc, kids] of batchCases) {
    if (kids.length !== upc) add('aggregation_error', undefined, [sscc]);
    for (const u of kids) {
      if (!commissions.has(u) && otherLots.has(u)) add('aggregation_error', u, [sscc]);
      if (!commissions.has(u) && !otherLots.has(u)) add('lost_packaging', u, [sscc]);
    }
  }
  const count = (step: string) => [...removed.values()].filter((s) => s === step).length;
  const packed = [...commissions.keys()].filter((u) => parents.has(u)).length;
  const balance = {
    commissioned: commissions.size,
    packed,
    rejected: count('decommissioning'),
    sampled: count('sampling'),
    destroyed: count('destroying'),
    unaccounted: 0,
  };
  balance.unaccounted = balance.commissioned - balance.packed - balance.rejected - balance.sampled - balance.destroyed;
  return { balance, keys: keys.sort(), events, epcs, reported: reported.size };
}
