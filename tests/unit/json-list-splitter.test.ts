import fc from 'fast-check';
import { JsonListSplitter, MAX_DEPTH, MalformedBodyError, jsonStringValue, type ListElementKind } from '../../lib/json-list-splitter';

/**
 * The splitter that capture and repository reports share: whatever the chunking, it hands out
 * exactly the elements of the list at its path, and gives back the rest of the body with the list
 * emptied. A body broken at the level it reads is refused with the byte where that became clear.
 */

interface Seen {
  value: unknown;
  index: number;
  kind: ListElementKind;
}

const LIST = {
  paths: [
    ['body', 'list'],
    ['other', 'deeper', 'list'],
  ],
  listName: 'list',
  maxHeaderBytes: 4096,
};

function split(text: string, cuts: number[] = [], options = LIST) {
  const seen: Seen[] = [];
  const splitter = new JsonListSplitter(
    { element: (t, index, kind) => seen.push({ value: t === null ? null : JSON.parse(t.toString('utf8')), index, kind }) },
    options,
  );
  const bytes = Buffer.from(text, 'utf8');
  let from = 0;
  for (const at of [...new Set(cuts)].sort((a, b) => a - b)) {
    splitter.write(bytes.subarray(from, at));
    from = at;
  }
  splitter.write(bytes.subarray(from));
  return { seen, header: splitter.end(), count: splitter.elements };
}

const kindOf = (v: unknown): ListElementKind =>
  Array.isArray(v) ? 'array' : v !== null && typeof v === 'object' ? 'object' : typeof v === 'string' ? 'string' : 'scalar';

function refusal(text: string, options = LIST): MalformedBodyError {
  try {
    split(text, [], options);
  } catch (e) {
    expect(e).toBeInstanceOf(MalformedBodyError);
    return e as MalformedBodyError;
  }
  throw new Error(`accepted: ${text}`);
}

describe('JSON list splitter', () => {
  const json = fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' });
  // Other keys of the header; "body" and "other" are the list's path, so they are left out.
  const headerFields = fc.dictionary(
    fc.string({ unit: 'binary', maxLength: 6 }).filter((k) => k !== 'body' && k !== 'other' && k !== '__proto__'),
    json,
    { maxKeys: 4 },
  );

  it('hands out every element, in order, and keeps the rest of the body as the header, however the body is cut', () => {
    fc.assert(
      fc.property(
        headerFields,
        headerFields,
        fc.array(json, { maxLength: 12 }),
        fc.constantFrom(undefined, 2),
        fc.array(fc.nat(), { maxLength: 8 }),
        (before, after, list, indent, rawCuts) => {
          const doc = { ...before, body: { a: 1, list, b: ['x'] }, ...after };
          const text = JSON.stringify(doc, null, indent);
          const length = Buffer.byteLength(text);
          const { seen, header, count } = split(
            text,
            rawCuts.map((c) => c % (length + 1)),
          );

          expect(count).toBe(list.length);
          expect(seen.map((s) => s.index)).toEqual(list.map((_, i) => i));
          expect(seen.map((s) => s.kind)).toEqual(list.map(kindOf));
          // Scalars come without their text: the sinks only ever want objects or strings.
          expect(JSON.stringify(seen.map((s) => s.value))).toBe(JSON.stringify(list.map((v) => (kindOf(v) === 'scalar' ? null : v))));
          expect(JSON.stringify(header)).toBe(JSON.stringify({ ...before, body: { a: 1, list: [], b: ['x'] }, ...after }));
        },
      ),
    );
  });

  it('finds the list at any of its paths, and only there', () => {
    const deep = split('{"other":{"deeper":{"list":[{"n":1},"two"]}},"list":[3],"body":{"x":{"list":[4]}}}');
    expect(deep.seen).toEqual([
      { value: { n: 1 }, index: 0, kind: 'object' },
      { value: 'two', index: 1, kind: 'string' },
    ]);
    expect(deep.header).toEqual({ other: { deeper: { list: [] } }, list: [3], body: { x: { list: [4] } } });

    const none = split('{"body":{"list":"not an array"},"list":[1]}');
    expect(none.count).toBe(0);
    expect(none.header).toEqual({ body: { list: 'not an array' }, list: [1] });
  });

  it('does not mistake brackets, quotes and keys inside strings for structure', () => {
    const text = '{"note":"\\"body\\": {\\"list\\": [","body":{"list":["]\\"}", {"list":["{"]}, "a,b"]}}';
    const { seen, header } = split(text, [5, 17, 30, 31, 32]);
    expect(seen.map((s) => s.value)).toEqual([']"}', { list: ['{'] }, 'a,b']);
    expect(header).toEqual({ note: '"body": {"list": [', body: { list: [] } });
  });

  it('ends a string at a quote after an even run of backslashes, wherever the chunks break', () => {
    const list = ['\\', '\\"', 'a\\\\"b"', '"', '\\\\\\', 'end'];
    const text = JSON.stringify({ body: { list }, tail: '\\"]}' });
    const every = Array.from({ length: text.length }, (_, i) => i);
    expect(split(text, every).seen.map((s) => s.value)).toEqual(list);
    for (let at = 0; at <= text.length; at++) {
      const { seen, header } = split(text, [at]);
      expect(seen.map((s) => s.value)).toEqual(list);
      expect(header).toEqual({ body: { list: [] }, tail: '\\"]}' });
    }
  });

  it('decodes a string element, escaped or not', () => {
    expect(jsonStringValue(Buffer.from('"ABC123"'))).toBe('ABC123');
    expect(jsonStringValue(Buffer.from('"A\\u0042\\"C"'))).toBe('AB"C');
    expect(jsonStringValue(Buffer.from('"bad \\x escape"'))).toBeNull();
    // A raw control character is not valid inside a JSON string, escapes or not.
    expect(jsonStringValue(Buffer.from('"AB\n1"'))).toBeNull();
    expect(jsonStringValue(Buffer.from('"AB\u0001\\u0041"'))).toBeNull();
  });

  it.each([
    ['an empty body', '', 'the body ends before it is complete', 0],
    ['a body cut short inside the list', '{"body":{"list":[{"a":1},{"b":', 'the body ends before it is complete', 30],
    ['a body cut short inside a string', '{"body":{"list":["ab', 'the body ends before it is complete', 20],
    ['an array at the root', '[{"body":{"list":[]}}]', 'the body is not a JSON object', 0],
    ['a string at the root', '"body"', 'the body is not a JSON object', 0],
    ['text after the end', '{"body":{"list":[]}} {}', 'text after the end of the body', 21],
    ['unbalanced brackets', '{"body":{"list":[{"a":[1}]}}', 'unbalanced brackets', 24],
    ['a closing brace in the list', '{"body":{"list":[1}}', 'unbalanced brackets', 18],
    ['two lists', '{"body":{"list":[],"list":[]}}', 'the body has more than one list', 26],
    ['a missing comma between objects', '{"body":{"list":[{} {}]}}', 'a missing comma between elements of the list', 20],
    ['a missing comma after a number', '{"body":{"list":[1 "a"]}}', 'a missing comma between elements of the list', 19],
    ['two numbers with only a space between them', '{"body":{"list":[1 2]}}', 'a missing comma between elements of the list', 19],
    ['two literals with only a newline between them', '{"body":{"list":[true\nnull]}}', 'a missing comma between elements of the list', 22],
    ['a leading comma', '{"body":{"list":[,1]}}', 'a comma without an element before it in the list', 17],
    ['two commas', '{"body":{"list":[1,,2]}}', 'a comma without an element before it in the list', 19],
    ['a trailing comma', '{"body":{"list":[1,]}}', 'a comma before the end of the list', 19],
    ['a header that is not JSON', '{"body":{"list":[]},"x":tru}', 'the body outside its list is not valid JSON', 28],
  ])('refuses %s, saying where', (_what, text, message, offset) => {
    const e = refusal(text);
    expect(e.message).toContain(message);
    expect(e.offset).toBe(offset);
  });

  it('refuses nesting deeper than its limit, in an element or in the header, before it costs memory', () => {
    const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
    // The root object, "body", the list and the element's own levels: MAX_DEPTH in all is accepted.
    expect(split(`{"body":{"list":[${deep(MAX_DEPTH - 3)}]}}`).count).toBe(1);
    expect(refusal(`{"body":{"list":[${deep(MAX_DEPTH - 2)}]}}`).message).toBe(`the body nests deeper than ${MAX_DEPTH} levels`);
    expect(refusal(`{"x":${deep(MAX_DEPTH)},"body":{"list":[]}}`).offset).toBe(5 + MAX_DEPTH - 1);
  });

  it('refuses a header past its size limit, however long the list', () => {
    const small = { ...LIST, maxHeaderBytes: 64 };
    const longList = `{"body":{"list":[${Array.from({ length: 1000 }, (_, i) => `"${i}"`).join(',')}]}}`;
    expect(split(longList, [], small).count).toBe(1000);
    expect(refusal(`{"pad":"${'x'.repeat(64)}","body":{"list":[]}}`, small).message).toContain(
      'the body outside its list exceeds 64 bytes',
    );
  });
});
