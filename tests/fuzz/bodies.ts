import fc from 'fast-check';
import { hostileString, wrongType } from './zod-arbitrary';

/** A request body as it goes on the wire. */
export type Body =
  | { kind: 'none'; note: string }
  | { kind: 'json'; value: unknown; note: string; contentType?: string }
  | { kind: 'raw'; bytes: Buffer; contentType?: string; note: string };

export function bodyBytes(body: Body): { bytes?: Buffer; contentType?: string } {
  if (body.kind === 'none') return {};
  if (body.kind === 'raw') return { bytes: body.bytes, contentType: body.contentType };
  return { bytes: Buffer.from(JSON.stringify(body.value) ?? 'null', 'utf8'), contentType: body.contentType ?? 'application/json' };
}

/** A short printable account of a body, for failure messages (long ones cut, with their size). */
export function describeBody(body: Body): string {
  const { bytes, contentType } = bodyBytes(body);
  if (!bytes) return `(no body) [${body.note}]`;
  const text = bytes.toString('utf8');
  const shown = text.length > 600 ? `${JSON.stringify(text.slice(0, 600))}… (${bytes.length} bytes)` : JSON.stringify(text);
  return `${contentType ?? '(no content-type)'} ${shown} [${body.note}]`;
}

type Path = Array<string | number>;

function pathsOf(value: unknown, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (Array.isArray(value)) value.forEach((v, i) => pathsOf(v, [...at, i], out));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) pathsOf(v, [...at, k], out);
  return out;
}

const clone = (v: unknown): unknown => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

/** Sets (own property, so `__proto__` is a key like any other) or deletes the value at a path; the root is replaced. */
function setAt(root: unknown, path: Path, value: unknown, del = false): unknown {
  if (path.length === 0) return value;
  const copy = clone(root) as Record<string | number, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (del) {
    if (Array.isArray(node)) node.splice(Number(last), 1);
    else delete node[last];
  } else Object.defineProperty(node, last, { value, enumerable: true, writable: true, configurable: true });
  return copy;
}

/** JSON text nested `depth` levels (as text: JSON.stringify would recurse once per level). */
function nestedText(depth: number, asArray: boolean): string {
  return asArray ? `${'['.repeat(depth)}"x"${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}"x"${'}'.repeat(depth)}`;
}

const HOLE = '\u0000nest\u0000';

const EXTRA_KEYS = [
  'extra',
  '__proto__',
  'constructor',
  'prototype',
  '\ud800',
  '\udfff',
  '\u0000',
  '',
  ' ',
  'by',
  'roles',
  'x'.repeat(1_000),
];

/**
 * Structural mutations of a valid body: fields missing, extra keys (a lone surrogate among them),
 * wrong types, hostile text, nesting from just under to far over the parser's limit, arrays of
 * thousands of items, and bodies that are not objects at all.
 */
export function mutationsOf(valid: unknown): fc.Arbitrary<Body> {
  const paths = pathsOf(valid);
  const objectPaths = paths.filter((p) => {
    let v: unknown = valid;
    for (const k of p) v = (v as Record<string | number, unknown>)[k];
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  });
  const inner = paths.filter((p) => p.length > 0);
  const anyPath = inner.length ? fc.constantFrom(...inner) : fc.constant<Path>([]);
  const show = (p: Path) => (p.length ? p.join('.') : '(root)');
  return fc.oneof(
    {
      weight: 3,
      arbitrary: anyPath.map((p): Body => ({ kind: 'json', value: setAt(valid, p, undefined, true), note: `missing ${show(p)}` })),
    },
    {
      weight: 3,
      arbitrary: fc
        .tuple(
          objectPaths.length ? fc.constantFrom(...objectPaths) : fc.constant<Path>([]),
          fc.constantFrom(...EXTRA_KEYS),
          fc.oneof(hostileString, wrongType),
        )
        .map(([p, k, v]): Body => ({
          kind: 'json',
          value: setAt(valid, [...p, k], v),
          note: `extra key ${JSON.stringify(k)} at ${show(p)}`,
        })),
    },
    {
      weight: 3,
      arbitrary: fc
        .tuple(anyPath, wrongType)
        .map(([p, v]): Body => ({ kind: 'json', value: setAt(valid, p, v), note: `wrong type at ${show(p)}` })),
    },
    {
      weight: 3,
      arbitrary: fc
        .tuple(anyPath, hostileString)
        .map(([p, v]): Body => ({ kind: 'json', value: setAt(valid, p, v), note: `hostile text at ${show(p)}` })),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(anyPath, fc.constantFrom(20, 60, 63, 64, 65, 100, 5_000), fc.boolean()).map(([p, depth, asArray]): Body => ({
        kind: 'raw',
        bytes: Buffer.from(
          (JSON.stringify(setAt(valid, p, HOLE)) ?? 'null').replace(JSON.stringify(HOLE), nestedText(depth, asArray)),
          'utf8',
        ),
        contentType: 'application/json',
        note: `nested ${depth} levels at ${show(p)}`,
      })),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(anyPath, fc.constantFrom(1_000, 5_000, 30_000)).map(([p, n]): Body => {
        let v: unknown = valid;
        for (const k of p) v = (v as Record<string | number, unknown>)[k];
        const item = Array.isArray(v) && v.length ? v[0] : typeof v === 'string' ? v : 'x';
        return {
          kind: 'json',
          value: setAt(
            valid,
            p,
            Array.from({ length: n }, () => item),
          ),
          note: `${n} items at ${show(p)}`,
        };
      }),
    },
    {
      weight: 2,
      arbitrary: fc
        .constantFrom<[unknown, string]>(
          [null, 'null'],
          ['a string', 'a string'],
          [42, 'a number'],
          [true, 'true'],
          [[], 'an empty array'],
          [[valid], 'the body in an array'],
          [[[]], 'nested empty arrays'],
          [{}, 'an empty object'],
        )
        .map(([value, what]): Body => ({ kind: 'json', value, note: `top-level ${what}` })),
    },
    { weight: 2, arbitrary: rawBodies(valid) },
  );
}

/** Bytes that are not (quite) JSON, or JSON under a content type it should not have. */
export function rawBodies(valid: unknown): fc.Arbitrary<Body> {
  const text = JSON.stringify(valid) ?? '{}';
  const firstKey = valid && typeof valid === 'object' && !Array.isArray(valid) ? Object.keys(valid)[0] : undefined;
  const raw = (bytes: Buffer | string, note: string, contentType: string | undefined = 'application/json'): Body => ({
    kind: 'raw',
    bytes: typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes,
    contentType,
    note,
  });
  const candidates: Array<() => Body> = [
    () => raw('', 'empty'),
    () => raw('   \n', 'only whitespace'),
    () => raw('{', 'truncated object'),
    () => raw(text.slice(0, Math.max(1, Math.floor(text.length / 2))), 'truncated valid body'),
    () => raw('{"a":1,}', 'trailing comma'),
    () => raw("{'a':1}", 'single quotes'),
    () => raw('null', 'null text'),
    () => raw('"\\ud800"', 'a lone surrogate string'),
    () => raw('1e999', 'a number too large'),
    () => raw(`\ufeff${text}`, 'byte order mark'),
    () =>
      raw(
        Buffer.concat([Buffer.from('{"title":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]),
        'UTF-8 encoded surrogate (invalid UTF-8)',
      ),
    () => raw(Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xff, 0xfe, 0xc0, 0xae]), Buffer.from('"}')]), 'invalid UTF-8 bytes'),
    () => raw(Buffer.from([0x00, 0x7b, 0x00, 0x7d]), 'NUL bytes'),
    () => raw(firstKey ? `{${JSON.stringify(firstKey)}:"\\u0000",${text.slice(1)}` : '{"a":1,"a":2}', 'a duplicated key'),
    () => raw(`{${Array.from({ length: 20_000 }, (_, i) => `"k${i}":${i}`).join(',')}}`, '20,000 keys'),
    () => raw(`[${'0,'.repeat(600_000)}0]`, 'over 1 MiB'),
    () => raw(`${'['.repeat(100_000)}${']'.repeat(100_000)}`, '100,000 levels of arrays'),
    () => raw(text, 'valid JSON sent as text/plain', 'text/plain'),
    () => raw('a=1&b=%00', 'a form', 'application/x-www-form-urlencoded'),
    () => raw(text, 'valid JSON as latin1', 'application/json; charset=latin1'),
    () => raw(text, 'valid JSON as utf-16', 'application/json; charset=utf-16'),
    () => raw(text, 'valid JSON as merge-patch+json', 'application/merge-patch+json'),
    () => raw(text, 'valid JSON without a content type', undefined),
    () => raw(text, 'valid JSON with a hostile content type', 'application/json; charset="utf-8'),
  ];
  return fc.integer({ min: 0, max: candidates.length - 1 }).map((i) => candidates[i]!());
}
