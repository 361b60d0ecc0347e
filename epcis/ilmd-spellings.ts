/**
 * The names under which senders put a commissioned lot's number and expiry date. A commissioning
 * event without a recognised lot cannot join its units to a batch, so reconciliation would never
 * see them: every spelling found in the wild that means the CBV's lotNumber or itemExpirationDate is
 * listed here, with where it comes from, and nothing that only looks like one. Capture reads the
 * value under whichever spelling an event uses and stores the event as it was sent.
 */

export type IlmdMeaning = 'lot' | 'expiry';

export interface IlmdSpelling {
  meaning: IlmdMeaning;
  /** The key of the event's `ilmd` object in EPCIS 2.0 JSON (XML elements are read into this form). */
  key: string;
  source: string;
}

export const ILMD_SPELLINGS: readonly IlmdSpelling[] = [
  {
    meaning: 'lot',
    key: 'cbvmda:lotNumber',
    source: 'CBV 1.2 §8.3 and CBV 2.0 (instance/lot master data); XML namespace urn:epcglobal:cbv:mda, JSON-LD prefix cbvmda',
  },
  { meaning: 'lot', key: 'lotNumber', source: 'the CBV term unprefixed, as EPCIS 2.0 JSON-LD may write it under the CBV vocabulary' },
  { meaning: 'lot', key: 'https://ref.gs1.org/cbv/cbvmda-lotNumber', source: 'CBV 2.0, the term as a full web URI' },
  { meaning: 'lot', key: 'urn:epcglobal:cbv:mda#lotNumber', source: 'CBV 1.x, the term as a full URN (as master data attributes name it)' },
  {
    meaning: 'lot',
    key: 'gs1ushc:lotNumber',
    source:
      'GS1 US Implementation Guideline for DSCSA, releases 1.0 and 1.1 (2013, 2014): ILMD in the GS1 US healthcare namespace ' +
      'http://epcis.gs1us.org/hc/ns; release 1.2 (2016) moved it to cbvmda, and senders built on the earlier releases still use it',
  },
  {
    meaning: 'expiry',
    key: 'cbvmda:itemExpirationDate',
    source: 'CBV 1.2 §8.3 and CBV 2.0 (instance/lot master data); XML namespace urn:epcglobal:cbv:mda, JSON-LD prefix cbvmda',
  },
  {
    meaning: 'expiry',
    key: 'itemExpirationDate',
    source: 'the CBV term unprefixed, as EPCIS 2.0 JSON-LD may write it under the CBV vocabulary',
  },
  { meaning: 'expiry', key: 'https://ref.gs1.org/cbv/cbvmda-itemExpirationDate', source: 'CBV 2.0, the term as a full web URI' },
  { meaning: 'expiry', key: 'urn:epcglobal:cbv:mda#itemExpirationDate', source: 'CBV 1.x, the term as a full URN' },
  {
    meaning: 'expiry',
    key: 'gs1ushc:itemExpirationDate',
    source: 'GS1 US Implementation Guideline for DSCSA, releases 1.0 and 1.1: the same namespace as gs1ushc:lotNumber above',
  },
];

export const ilmdKeys = (meaning: IlmdMeaning): string[] => ILMD_SPELLINGS.filter((s) => s.meaning === meaning).map((s) => s.key);

/**
 * XML namespaces whose elements are named with their usual prefix, whatever prefix the document
 * declared for them: `<mda:lotNumber xmlns:mda="urn:epcglobal:cbv:mda">` is cbvmda:lotNumber, as
 * the JSON-LD context defines that prefix. Other namespaces keep the document's own prefix.
 */
export const WELL_KNOWN_PREFIXES: Readonly<Record<string, string>> = {
  'urn:epcglobal:cbv:mda': 'cbvmda',
  'http://epcis.gs1us.org/hc/ns': 'gs1ushc',
};

/**
 * SAP's Auto-ID Infrastructure and Object Event Repository put the lot and expiry of a
 * commissioning ObjectEvent in an element of their own instead of ilmd:
 * `<SAPExtension><ObjAttributes><LOTNO>…</LOTNO><DATEX>…</DATEX></ObjAttributes></SAPExtension>`
 * (as read by SerialLab's open-source QU4RTET SAP parser, quartet_integrations/sap). The XML reader
 * takes them into the event's ilmd under the CBV names; DATEX comes as YYYY-MM-DD or as SAP's
 * internal date YYYYMMDD.
 */
export const SAP_EXTENSION = {
  element: 'SAPExtension',
  attributes: 'ObjAttributes',
  fields: { LOTNO: 'cbvmda:lotNumber', DATEX: 'cbvmda:itemExpirationDate' } as Readonly<Record<string, string>>,
  source: 'SAP AII/OER EPCIS output, SAPExtension/ObjAttributes (LOTNO, DATEX)',
} as const;

/** A date in SAP's internal form (YYYYMMDD) as an ISO date; anything else as it came. */
export const sapDate = (value: string): string =>
  /^\d{8}$/.test(value) ? `${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6)}` : value;
