/** The namespaces an EPCIS XML document (and what wraps it) is made of. */
export const NS = {
  epcis1: 'urn:epcglobal:epcis:xsd:1',
  epcis2: 'urn:epcglobal:epcis:xsd:2',
  query1: 'urn:epcglobal:epcis-query:xsd:1',
  query2: 'urn:epcglobal:epcis-query:xsd:2',
  masterData1: 'urn:epcglobal:epcis-masterdata:xsd:1',
  masterData2: 'urn:epcglobal:epcis-masterdata:xsd:2',
  sbdh: 'http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader',
  soap11: 'http://schemas.xmlsoap.org/soap/envelope/',
  soap12: 'http://www.w3.org/2003/05/soap-envelope',
  xsi: 'http://www.w3.org/2001/XMLSchema-instance',
  xmlns: 'http://www.w3.org/2000/xmlns/',
  xml: 'http://www.w3.org/XML/1998/namespace',
} as const;

/** Namespaces of the standard itself: its elements are unqualified, so an element in one of these is misplaced. */
export const EPCIS_NAMESPACES: ReadonlySet<string> = new Set([NS.epcis1, NS.epcis2, NS.query1, NS.query2, NS.masterData1, NS.masterData2]);

export type EpcisVersion = '1.2' | '2.0';

export interface XmlAttribute {
  /** Namespace URI, '' when unqualified. */
  ns: string;
  local: string;
  prefix: string;
  value: string;
}

/**
 * An element of an event or of the header, read into memory once it is complete (one event at a
 * time: the document as a whole is never held).
 */
export interface XmlElement {
  ns: string;
  local: string;
  prefix: string;
  attributes: XmlAttribute[];
  children: XmlElement[];
  /** The character data directly inside it, as written (whitespace included). */
  text: string;
  line: number;
  /**
   * An EPC list's <epc> values, read as bare strings instead of elements: one event's list may name
   * a million units, and a string each is what the JSON reader holds for them too.
   */
  values?: string[];
  /** <epc> elements of the list that were not plain text (attributes or child elements), by position. */
  badValues?: Array<{ index: number; line: number; reason: string }>;
}

/** The lists whose items are <epc> elements holding one identifier each. */
export const EPC_LISTS: ReadonlySet<string> = new Set(['epcList', 'childEPCs', 'inputEPCList', 'outputEPCList']);

/** Attributes that carry no data of the element: namespace declarations and schema-instance hints. */
export const isMarkupAttribute = (a: XmlAttribute): boolean =>
  a.ns === NS.xmlns || a.ns === NS.xsi || (a.ns === '' && a.local === 'xmlns') || a.ns === NS.xml;

/** The element's data attributes (namespace declarations and xsi:* left out). */
export const dataAttributes = (e: XmlElement): XmlAttribute[] => e.attributes.filter((a) => !isMarkupAttribute(a));

export const hasText = (e: XmlElement): boolean => e.text.trim() !== '';

/** xsi:nil="true": the element says it has no value. */
export const isNil = (e: XmlElement): boolean =>
  e.attributes.some((a) => a.ns === NS.xsi && a.local === 'nil' && (a.value.trim() === 'true' || a.value.trim() === '1'));
