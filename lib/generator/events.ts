import { formatSgtinDigitalLink, formatSgtinUrn, formatSsccDigitalLink, formatSsccUrn } from '../../domain/gs1';
import type { GeneratorConfig } from './plan';
import type { Rng } from './rng';

/**
 * EPCIS 2.0 JSON-LD events as a packaging line and its L3 system would send them. Builders are pure
 * apart from the Rng (event IDs) and the clock they are handed; the writer streams what they return.
 */
export type EpcisEvent = Record<string, unknown>;

export const EPCIS_CONTEXT = 'https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld';

export class EventFactory {
  private time: number;
  private readonly sgln: string;
  private readonly site: string;

  constructor(
    private readonly cfg: GeneratorConfig,
    private readonly rng: Rng,
  ) {
    this.time = Date.parse(cfg.startTime);
    const locRefLength = 12 - cfg.companyPrefix.length;
    const lineRef = String(Number(cfg.line.replace(/\D/g, '') || '1')).padStart(locRefLength, '0');
    this.sgln = `urn:epc:id:sgln:${cfg.companyPrefix}.${lineRef}.0`;
    this.site = `urn:epc:id:sgln:${cfg.companyPrefix}.${'0'.repeat(locRefLength)}.0`;
  }

  sgtin(gtin: string, serial: string): string {
    return this.cfg.identifiers === 'digital-link'
      ? formatSgtinDigitalLink(gtin, serial)
      : formatSgtinUrn(gtin, serial, this.cfg.companyPrefix.length);
  }

  sscc(sscc: string): string {
    return this.cfg.identifiers === 'digital-link' ? formatSsccDigitalLink(sscc) : formatSsccUrn(sscc, this.cfg.companyPrefix.length);
  }

  private base(type: string): EpcisEvent {
    this.time += 10;
    return {
      type,
      eventID: `urn:uuid:${this.rng.uuid()}`,
      eventTime: new Date(this.time).toISOString(),
      eventTimeZoneOffset: '+00:00',
    };
  }

  commissioning(epcs: string[], lot: string, expiry: string): EpcisEvent {
    return {
      ...this.base('ObjectEvent'),
      epcList: epcs,
      action: 'ADD',
      bizStep: 'commissioning',
      disposition: 'active',
      readPoint: { id: this.sgln },
      bizLocation: { id: this.site },
      ilmd: { 'cbvmda:lotNumber': lot, 'cbvmda:itemExpirationDate': expiry },
    };
  }

  packing(parent: string, children: string[]): EpcisEvent {
    return {
      ...this.base('AggregationEvent'),
      parentID: parent,
      childEPCs: children,
      action: 'ADD',
      bizStep: 'packing',
      disposition: 'in_progress',
      readPoint: { id: this.sgln },
      bizLocation: { id: this.site },
    };
  }

  shipping(epcs: string[], shipment: string): EpcisEvent {
    return {
      ...this.base('ObjectEvent'),
      epcList: epcs,
      action: 'OBSERVE',
      bizStep: 'shipping',
      disposition: 'in_transit',
      readPoint: { id: this.site },
      bizTransactionList: [{ type: 'desadv', bizTransaction: `urn:epcglobal:cbv:bt:${this.cfg.companyPrefix}000001:${shipment}` }],
      sourceList: [{ type: 'owning_party', source: this.site }],
      destinationList: [{ type: 'owning_party', destination: 'urn:epc:id:sgln:0614141.00001.0' }],
    };
  }

  /** A unit leaving the batch: rejected at the line, taken as a QC sample, or destroyed. */
  removal(epcs: string[], kind: 'rejected' | 'sampled' | 'destroyed'): EpcisEvent {
    const [bizStep, disposition] = {
      rejected: ['decommissioning', 'inactive'],
      sampled: ['sampling', 'non_sellable_other'],
      destroyed: ['destroying', 'destroyed'],
    }[kind];
    return {
      ...this.base('ObjectEvent'),
      epcList: epcs,
      action: 'DELETE',
      bizStep,
      disposition,
      readPoint: { id: this.sgln },
      bizLocation: { id: this.site },
    };
  }
}
