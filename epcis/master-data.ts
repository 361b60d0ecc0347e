import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { PoolClient } from '../db/pool';
import { hasValidCheckDigit, parseEpc, withCheckDigit } from '../domain/gs1';
import { jsonbCannotHold, type CaptureProblem } from './normalise';
import { addGrouped, extensionKey, extensionValue } from './xml/convert';
import { dataAttributes, EPCIS_NAMESPACES, type XmlElement } from './xml/nodes';

/**
 * Master data an EPCIS document carries in its header (EPCIS 1.2/2.0 XML EPCISHeader/extension/
 * EPCISMasterData, EPCIS 2.0 JSON epcisHeader.epcisMasterData): vocabulary elements describing
 * products (EPCClass: names, NDC, dosage form, strength) and locations (BusinessLocation, ReadPoint,
 * and the Location type of the GS1 US DSCSA guideline: names and addresses).
 *
 * Recorded with the document that brought it, the way POST /products records a product: the same
 * master data sent again is recorded once. A trading partner's master data does change (an address,
 * a name): a different version of a known element is recorded beside the earlier ones with the
 * document that brought it, never over them, so what every document said stays readable.
 */

export interface VocabularyElement {
  /** The vocabulary's type URI, e.g. urn:epcglobal:epcis:vtype:EPCClass. */
  type: string;
  id: string;
  /** Attribute ID → value (text, or an object for structured values; an ID given twice → an array). */
  attributes: Record<string, unknown>;
  children: string[];
}

/**
 * The vocabulary elements of an XML VocabularyList (EPCISMasterData's), with a problem for each
 * element the XSD would refuse (no type, no id).
 */
export function masterDataFromXml(list: XmlElement, path: string, problems: CaptureProblem[]): VocabularyElement[] {
  const out: VocabularyElement[] = [];
  const problem = (e: XmlElement, element: string, reason: string) =>
    problems.push({ field: 'EPCISHeader.EPCISMasterData', reason, element, line: e.line });
  const only = (e: XmlElement, name: string, element: string) =>
    e.children.filter((c) => {
      if (!c.ns && c.local === name) return true;
      if (c.ns && !EPCIS_NAMESPACES.has(c.ns)) return false;
      if (c.local !== 'extension') problem(c, `${element}/${c.local}`, `<${c.local}> is not an element of <${e.local}>`);
      return false;
    });
  only(list, 'Vocabulary', path).forEach((vocabulary, v) => {
    const vPath = `${path}/Vocabulary[${v + 1}]`;
    const type = dataAttributes(vocabulary)
      .find((a) => !a.ns && a.local === 'type')
      ?.value.trim();
    if (!type) problem(vocabulary, vPath, '<Vocabulary> has no type attribute');
    for (const elementList of only(vocabulary, 'VocabularyElementList', vPath)) {
      only(elementList, 'VocabularyElement', `${vPath}/VocabularyElementList`).forEach((element, i) => {
        const ePath = `${vPath}/VocabularyElementList/VocabularyElement[${i + 1}]`;
        const id = dataAttributes(element)
          .find((a) => !a.ns && a.local === 'id')
          ?.value.trim();
        if (!id) problem(element, ePath, '<VocabularyElement> has no id attribute');
        const entries: Array<[string, unknown]> = [];
        const children: string[] = [];
        for (const c of element.children) {
          if (c.ns && !EPCIS_NAMESPACES.has(c.ns)) entries.push([extensionKey(c), extensionValue(c)]);
          else if (!c.ns && c.local === 'attribute') {
            const attributeId = dataAttributes(c)
              .find((a) => !a.ns && a.local === 'id')
              ?.value.trim();
            if (!attributeId) problem(c, `${ePath}/attribute`, '<attribute> has no id attribute');
            else entries.push([attributeId, c.children.length ? extensionValue({ ...c, attributes: [] }) : c.text.trim()]);
          } else if (!c.ns && c.local === 'children') {
            for (const child of c.children) {
              if (!child.ns && child.local === 'id' && child.text.trim()) children.push(child.text.trim());
              else problem(child, `${ePath}/children/${child.local}`, '<children> may hold only <id> elements with an identifier');
            }
          } else if (c.ns || c.local !== 'extension')
            problem(c, `${ePath}/${c.local}`, `<${c.local}> is not an element of <VocabularyElement>`);
        }
        const attributes: Record<string, unknown> = {};
        addGrouped(attributes, entries);
        if (type && id) out.push({ type, id, attributes, children });
      });
    }
  });
  return out;
}

/** The vocabulary elements of an EPCIS 2.0 JSON header (already checked against the standard's JSON Schema). */
export function masterDataFromJson(header: unknown): VocabularyElement[] {
  const list = (header as { epcisHeader?: { epcisMasterData?: { vocabularyList?: unknown } } } | null)?.epcisHeader?.epcisMasterData
    ?.vocabularyList;
  if (!Array.isArray(list)) return [];
  const out: VocabularyElement[] = [];
  for (const vocabulary of list as Array<{ type?: unknown; vocabularyElementList?: unknown }>) {
    if (typeof vocabulary?.type !== 'string' || !Array.isArray(vocabulary.vocabularyElementList)) continue;
    for (const element of vocabulary.vocabularyElementList as Array<{ id?: unknown; attributes?: unknown; children?: unknown }>) {
      if (typeof element?.id !== 'string') continue;
      const attributes: Record<string, unknown> = {};
      if (Array.isArray(element.attributes))
        addGrouped(
          attributes,
          (element.attributes as Array<{ id?: unknown; attribute?: unknown }>).flatMap((a) =>
            typeof a?.id === 'string' ? [[a.id, a.attribute] as const] : [],
          ),
        );
      const children = Array.isArray(element.children) ? element.children.filter((c): c is string => typeof c === 'string') : [];
      out.push({ type: vocabulary.type, id: element.id, attributes, children });
    }
  }
  return out;
}

const SGTIN_PATTERN = /^urn:epc:idpat:sgtin:(\d{6,12})\.(\d{1,7})\.\*$/;
const DIGITAL_LINK_GTIN = /^https?:\/\/[^/]+(?:\/[^?#]*)?\/01\/(\d{14})(?:[/?#]|$)/;

/** The GTIN a product class names: an SGTIN pattern (CP.IR.*), an LGTIN, or a Digital Link /01/…. */
export function gtinOfClass(id: string): string | null {
  const pattern = SGTIN_PATTERN.exec(id);
  if (pattern) {
    const [, companyPrefix, itemReference] = pattern as unknown as [string, string, string];
    if (companyPrefix.length + itemReference.length !== 13) return null;
    return withCheckDigit(`${itemReference[0]}${companyPrefix}${itemReference.slice(1)}`);
  }
  if (id.startsWith('urn:epc:class:lgtin:')) {
    const r = parseEpc(id);
    return r.ok && r.value.kind === 'lgtin' ? (r.value.gtin as string) : null;
  }
  const link = DIGITAL_LINK_GTIN.exec(id);
  return link && hasValidCheckDigit(link[1]!) ? link[1]! : null;
}

const EPC_CLASS_TYPE = /(?:^|[:#/])EPCClass$/;

/** Problems with master data that cannot be stored (U+0000 or a lone surrogate in it). */
export function unstorableMasterData(elements: VocabularyElement[]): CaptureProblem[] {
  return elements
    .filter((e) => jsonbCannotHold(JSON.stringify(e)))
    .map((e) => ({
      field: 'epcisHeader.epcisMasterData',
      reason: `vocabulary element ${e.id.slice(0, 200)} holds U+0000 or an unpaired surrogate, which cannot be stored`,
    }));
}

/** Records the document's master data (inside the capture's transaction); answers how many versions were new. */
export async function recordMasterData(client: PoolClient, documentId: string, elements: VocabularyElement[]): Promise<number> {
  if (!elements.length) return 0;
  const rows = elements.map((e) => {
    const version = { attributes: e.attributes, children: e.children };
    return {
      type: e.type,
      id: e.id,
      gtin: EPC_CLASS_TYPE.test(e.type) ? gtinOfClass(e.id) : null,
      attributes: e.attributes,
      children: e.children,
      sha256: createHash('sha256')
        .update(canonicalize(version) ?? '')
        .digest('hex'),
    };
  });
  const { rowCount } = await client.query(
    `INSERT INTO epcis_master_data (vocabulary_type, element_id, gtin, attributes, children, sha256, document_id)
     SELECT r.type, r.id, r.gtin, r.attributes, r.children, r.sha256, $2
       FROM jsonb_to_recordset($1::jsonb) AS r(type text, id text, gtin text, attributes jsonb, children jsonb, sha256 text)
      -- (in key order: documents recording the same elements at the same time wait for each other in one order)
      ORDER BY r.type, r.id, r.sha256
     ON CONFLICT (vocabulary_type, element_id, sha256) DO NOTHING`,
    [JSON.stringify(rows), documentId],
  );
  return rowCount ?? 0;
}
