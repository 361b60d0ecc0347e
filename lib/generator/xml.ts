import { attributes, escapeText, textElement } from '../xml-writer';
import type { EpcisEvent } from './events';

/**
 * The generator's events as EPCIS 1.2 XML, as an older L3 or trading-partner system sends them: the
 * twin of the JSON documents, event for event (the same eventIDs), so that a batch captured either
 * way must reconcile to the same findings. EPCIS 1.2 keeps eventID in baseExtension and an
 * ObjectEvent's sourceList, destinationList and ilmd in its extension (EPCglobal-epcis-1_2.xsd);
 * CBV values are URNs. Only the fields EventFactory writes are known here: any other is an error,
 * so a new field cannot go missing from the XML twin unnoticed.
 */

const CBV_URN = {
  bizStep: 'urn:epcglobal:cbv:bizstep:',
  disposition: 'urn:epcglobal:cbv:disp:',
  bizTransactionType: 'urn:epcglobal:cbv:btt:',
  sourceDestType: 'urn:epcglobal:cbv:sdt:',
} as const;

/** The XML namespace of the CBV's master data attributes (the JSON-LD prefix cbvmda). */
const CBVMDA = 'urn:epcglobal:cbv:mda';

export function epcis12DocumentStart(creationDate: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<epcis:EPCISDocument${attributes([
      ['xmlns:epcis', 'urn:epcglobal:epcis:xsd:1'],
      ['xmlns:cbvmda', CBVMDA],
      ['schemaVersion', '1.2'],
      ['creationDate', creationDate],
    ])}>\n<EPCISBody>\n<EventList>\n`
  );
}

export const EPCIS_12_DOCUMENT_END = '</EventList>\n</EPCISBody>\n</epcis:EPCISDocument>\n';

const KNOWN = new Set([
  'type',
  'eventID',
  'eventTime',
  'eventTimeZoneOffset',
  'parentID',
  'epcList',
  'childEPCs',
  'action',
  'bizStep',
  'disposition',
  'readPoint',
  'bizLocation',
  'bizTransactionList',
  'sourceList',
  'destinationList',
  'ilmd',
]);

const str = (v: unknown): string => String(v);

function epcs(name: string, list: unknown): string {
  let out = `<${name}>`;
  for (const epc of list as string[]) out += `<epc>${escapeText(epc)}</epc>`;
  return `${out}</${name}>`;
}

const typed = (item: 'bizTransaction' | 'source' | 'destination', urn: string, entries: Array<Record<string, string>>) =>
  entries.map((e) => textElement(item, str(e[item]), [['type', `${urn}${e.type}`]])).join('');

/** One event of the generator as an EPCIS 1.2 event element. */
export function epcis12EventXml(event: EpcisEvent): string {
  for (const key of Object.keys(event)) if (!KNOWN.has(key)) throw new Error(`the XML twin has no place for the field ${key}`);
  const type = str(event.type);
  if (type !== 'ObjectEvent' && type !== 'AggregationEvent') throw new Error(`the XML twin writes no ${type}`);
  let out = `<${type}>`;
  out += textElement('eventTime', str(event.eventTime));
  out += textElement('eventTimeZoneOffset', str(event.eventTimeZoneOffset));
  out += `<baseExtension>${textElement('eventID', str(event.eventID))}</baseExtension>`;
  if (type === 'AggregationEvent') {
    out += textElement('parentID', str(event.parentID));
    out += epcs('childEPCs', event.childEPCs ?? []);
  } else out += epcs('epcList', event.epcList ?? []);
  out += textElement('action', str(event.action));
  if (event.bizStep !== undefined) out += textElement('bizStep', `${CBV_URN.bizStep}${str(event.bizStep)}`);
  if (event.disposition !== undefined) out += textElement('disposition', `${CBV_URN.disposition}${str(event.disposition)}`);
  for (const where of ['readPoint', 'bizLocation'] as const) {
    const location = event[where] as { id: string } | undefined;
    if (location) out += `<${where}>${textElement('id', location.id)}</${where}>`;
  }
  const transactions = event.bizTransactionList as Array<Record<string, string>> | undefined;
  if (transactions) out += `<bizTransactionList>${typed('bizTransaction', CBV_URN.bizTransactionType, transactions)}</bizTransactionList>`;
  let extension = '';
  const sources = event.sourceList as Array<Record<string, string>> | undefined;
  const destinations = event.destinationList as Array<Record<string, string>> | undefined;
  if (sources) extension += `<sourceList>${typed('source', CBV_URN.sourceDestType, sources)}</sourceList>`;
  if (destinations) extension += `<destinationList>${typed('destination', CBV_URN.sourceDestType, destinations)}</destinationList>`;
  const ilmd = event.ilmd as Record<string, string> | undefined;
  if (ilmd) {
    let fields = '';
    for (const [key, value] of Object.entries(ilmd)) {
      if (!key.startsWith('cbvmda:')) throw new Error(`the XML twin has no namespace for the ilmd field ${key}`);
      fields += textElement(key, value);
    }
    extension += `<ilmd>${fields}</ilmd>`;
  }
  if (extension) {
    if (type !== 'ObjectEvent') throw new Error(`an EPCIS 1.2 ${type} has no place for sourceList, destinationList or ilmd here`);
    out += `<extension>${extension}</extension>`;
  }
  return `${out}</${type}>`;
}
