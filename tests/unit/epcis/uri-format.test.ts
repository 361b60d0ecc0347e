import fc from 'fast-check';
import { fullFormats } from 'ajv-formats/dist/formats';
import { isUri } from '../../../epcis/schema';

const fullUri = fullFormats.uri as (s: string) => boolean;

describe('the "uri" format capture validates with', () => {
  it('accepts and refuses exactly what ajv-formats full mode does', () => {
    const chars = fc.constantFrom(...'aZ09:.-_~!$&\'()*+,;=@/?#%[] "<>\\^`{|}é'.split(''), 'urn:epc:id:sgtin:', 'https://', '%2F', '%zz');
    fc.assert(
      fc.property(fc.string({ unit: chars, maxLength: 40 }), (s) => expect(isUri(s)).toBe(fullUri(s))),
      { numRuns: 5000 },
    );
  });

  it('agrees on the identifiers capture sees most', () => {
    for (const s of [
      'urn:epc:id:sgtin:4012345.077079.FLO1MVU8EC',
      'urn:epc:id:sscc:4012345.0000000001',
      "urn:epc:id:sgtin:4012345.077079.!%22'()*+,-.",
      'https://id.gs1.org/01/04012345770780/21/ABC',
      'urn:epcglobal:cbv:bizstep:commissioning',
      'urn:',
      ':x',
      'no scheme',
    ])
      expect([s, isUri(s)]).toEqual([s, fullUri(s)]);
  });
});
