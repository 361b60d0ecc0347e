import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Standard vocabulary values as EPCIS 2.0 JSON writes them. XML names a CBV value by its URN
 * (urn:epcglobal:cbv:bizstep:shipping), its web URI (https://ref.gs1.org/cbv/BizStep-shipping) or that
 * URI's CURIE (cbv:BizStep-shipping);
 * JSON by its bare word ("shipping"), and GS1's JSON Schema refuses the URN there. An event read
 * from XML is given the JSON spelling, so that the same event sent either way is the same event.
 * The words are those of the vendored JSON Schema (epcis/json-schema), not a second list.
 */

const SCHEMAS = path.join(__dirname, '..', 'json-schema', 'schemas');

function wordsOf(file: string, definition: string): ReadonlySet<string> {
  const schema = JSON.parse(readFileSync(path.join(SCHEMAS, file), 'utf8')) as {
    definitions: Record<string, { anyOf?: Array<{ enum?: string[] }> }>;
  };
  const words = schema.definitions[definition]?.anyOf?.find((branch) => Array.isArray(branch.enum))?.enum;
  if (!words) throw new Error(`no word list in ${file}#/definitions/${definition}`);
  return new Set(words);
}

export type CbvKind =
  'bizStep' | 'disposition' | 'bizTransactionType' | 'sourceDestType' | 'errorReason' | 'measurementType' | 'alertType' | 'component';

interface Vocabulary {
  words: ReadonlySet<string>;
  /** Spellings of a value as a URI: the word follows the prefix. */
  prefixes: readonly string[];
  /** What the problem calls a value of this vocabulary. */
  noun: string;
}

const GS1_WEB_VOCABULARY = ['gs1:', 'https://gs1.org/voc/', 'https://www.gs1.org/voc/', 'http://gs1.org/voc/', 'http://www.gs1.org/voc/'];

const VOCABULARIES: Record<CbvKind, Vocabulary> = {
  bizStep: {
    words: wordsOf('bizStep-JSON-Schema.json', 'bizStep'),
    prefixes: ['urn:epcglobal:cbv:bizstep:', 'https://ref.gs1.org/cbv/BizStep-', 'cbv:BizStep-'],
    noun: 'CBV business step',
  },
  disposition: {
    words: wordsOf('disposition-JSON-Schema.json', 'disposition'),
    prefixes: ['urn:epcglobal:cbv:disp:', 'https://ref.gs1.org/cbv/Disp-', 'cbv:Disp-'],
    noun: 'CBV disposition',
  },
  bizTransactionType: {
    words: wordsOf('bizTransaction-type-JSON-Schema.json', 'bizTransaction-type'),
    prefixes: ['urn:epcglobal:cbv:btt:', 'https://ref.gs1.org/cbv/BTT-', 'cbv:BTT-'],
    noun: 'CBV business transaction type',
  },
  sourceDestType: {
    words: wordsOf('source-dest-type-JSON-Schema.json', 'source-dest-type'),
    prefixes: ['urn:epcglobal:cbv:sdt:', 'https://ref.gs1.org/cbv/SDT-', 'cbv:SDT-'],
    noun: 'CBV source/destination type',
  },
  errorReason: {
    words: wordsOf('error-reason-JSON-Schema.json', 'error-reason'),
    prefixes: ['urn:epcglobal:cbv:er:', 'https://ref.gs1.org/cbv/ER-', 'cbv:ER-'],
    noun: 'CBV error reason',
  },
  measurementType: {
    words: wordsOf('measurement-type-JSON-Schema.json', 'measurementType'),
    prefixes: GS1_WEB_VOCABULARY,
    noun: 'measurement type',
  },
  alertType: {
    words: wordsOf('sensor-alert-type-JSON-Schema.json', 'sensorAlertType'),
    prefixes: GS1_WEB_VOCABULARY,
    noun: 'sensor alert type',
  },
  component: {
    words: wordsOf('component-JSON-Schema.json', 'component'),
    prefixes: ['urn:epcglobal:cbv:comp:', 'https://ref.gs1.org/cbv/Comp-', 'cbv:Comp-'],
    noun: 'CBV component',
  },
};

/**
 * The JSON spelling of a vocabulary value, or a reason when the value claims the standard's
 * vocabulary (its URN or web prefix) with a word the standard does not have. Any other URI is a
 * user vocabulary and stays as it is.
 */
export function jsonVocabularyValue(value: string, kind: CbvKind): { value: string } | { reason: string } {
  const vocabulary = VOCABULARIES[kind];
  for (const prefix of vocabulary.prefixes) {
    if (!value.startsWith(prefix)) continue;
    const word = value.slice(prefix.length);
    return vocabulary.words.has(word) ? { value: word } : { reason: `"${value}" is not a ${vocabulary.noun}` };
  }
  return { value };
}

/**
 * The XML spelling of a value JSON gives as a standard bare word: the CBV's URN (as EPCIS 1.2 and
 * GS1's 2.0 XML examples write it), or the gs1: CURIE for sensor vocabularies. Any other value is a
 * URI already and stays as it is.
 */
export function xmlVocabularyValue(value: string, kind: CbvKind): string {
  const vocabulary = VOCABULARIES[kind];
  return vocabulary.words.has(value) ? `${vocabulary.prefixes[0]}${value}` : value;
}
