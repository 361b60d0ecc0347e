import fc from 'fast-check';
import type { z } from 'zod';
import { defOf, type CheckDef, type Def } from '../helpers/zod-strings';

/**
 * fast-check arbitraries derived from zod 4 schemas by walking `schema._zod.def` (the same way
 * tests/helpers/zod-strings.ts walks them): values a client could plausibly send, with hostile
 * text mixed into string leaves at a chosen rate, and hints by field name where a plausible value
 * needs knowledge the schema does not carry (a real login, a GTIN with its check digit, a future date).
 */

const checksOf = (def: Def): CheckDef[] => (def.checks ?? []).map((c) => c._zod.def);

// ---------------------------------------------------------------------------------------------
// Hostile text
// ---------------------------------------------------------------------------------------------

/** Strings that have broken (or could break) servers: controls, lone surrogates, injections, size. */
export const HOSTILE_STRINGS: readonly string[] = [
  '',
  ' ',
  '\t\r\n',
  '\u0000',
  'a\u0000b',
  'T1\u0000',
  '\u0001\u0002\u0007\u0008\u001b[31mred\u001b[0m',
  '\u007f',
  '\ud800',
  'x\udfffy',
  'ok\udbff',
  '\udc00\ud800',
  '\ud83d\ude00', // a well-formed pair (an emoji)
  '\ufeff',
  '\uffff\ufffe',
  '\u202eevil\u202c',
  '\u2028\u2029',
  'Z\u0364\u0351\u0313\u0324\u0354',
  '\u{1d56f}\u{1d58a}\u{1d59b}',
  '👩‍🔬🧪',
  'ﷺ',
  '０１２３',
  "'; DROP TABLE deviations; --",
  '" OR 1=1 --',
  "' OR ''='",
  '$1',
  '../../etc/passwd',
  '..\\..\\windows\\win.ini',
  '%00',
  '%ud800',
  '%ED%A0%80',
  '${7*7}{{7*7}}',
  '<script>alert(1)</script>',
  '__proto__',
  'constructor',
  'null',
  'NaN',
  '-0',
  '1e309',
  'DEV-2026-000001',
  'DEV-9999-999999',
  'a'.repeat(5_000),
  'é'.repeat(70_000),
  '\u0000'.repeat(1_000),
  '\ud800'.repeat(2_000),
];

/** Any UTF-16 code unit, lone surrogates included. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((n) => String.fromCharCode(n));

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: codeUnit, maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.constantFrom('L', 'ok', 'T'), fc.constantFrom('\u0000', '\ud800', '\u0007', '\n')).map(([a, b]) => `${a}${b}`),
  },
);

/** Values of the wrong JSON type for any field. */
export const wrongType: fc.Arbitrary<unknown> = fc.constantFrom<unknown>(
  null,
  0,
  -1,
  1.5,
  1e308,
  -1e308,
  Number.MAX_SAFE_INTEGER + 2,
  true,
  false,
  [],
  [null],
  {},
  { '': null },
  'string',
  ['a', 1, null],
);

// ---------------------------------------------------------------------------------------------
// Plausible values from a schema
// ---------------------------------------------------------------------------------------------

/** Per field name (the key of the object holding it; array elements use `key[]`): a plausible value. */
export type Hints = Record<string, fc.Arbitrary<unknown>>;

export interface GenOptions {
  hints?: Hints;
  /** 0..1: how often a string leaf is hostile text instead of a plausible one. */
  hostileRate?: number;
  /** How often an optional field is left out (0..1). */
  omitRate?: number;
}

const words = [
  'Duplicate',
  'serial',
  'numbers',
  'found',
  'line',
  'batch',
  'report',
  'reviewed',
  'printer',
  'buffer',
  'restart',
  'SOP',
  'verified',
  'QA',
];
const sentence = fc.array(fc.constantFrom(...words), { minLength: 1, maxLength: 8 }).map((w) => w.join(' '));

const matchers = new Map<string, fc.Arbitrary<string> | undefined>();

/** fc.stringMatching, or undefined for a pattern it cannot generate from (built once per pattern). */
function matching(pattern: RegExp): fc.Arbitrary<string> | undefined {
  const key = `${pattern.flags}/${pattern.source}`;
  if (!matchers.has(key)) {
    try {
      const arb = fc.stringMatching(new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, '')));
      fc.sample(arb, { numRuns: 1, seed: 1 });
      matchers.set(key, arb);
    } catch {
      matchers.set(key, undefined);
    }
  }
  return matchers.get(key);
}

function plausibleString(def: Def): fc.Arbitrary<string> {
  const checks = checksOf(def);
  const min = Math.max(0, ...checks.filter((c) => c.check === 'min_length').map((c) => c.minimum ?? 0));
  const maxes = checks.filter((c) => c.check === 'max_length').map((c) => c.maximum ?? Infinity);
  const max = maxes.length ? Math.min(...maxes) : Infinity;
  const patterns = [def.pattern, ...checks.filter((c) => c.check === 'string_format' && c.pattern).map((c) => c.pattern)].filter(
    Boolean,
  ) as RegExp[];
  if (def.format === 'datetime') return isoDateTimeArb;
  if (def.format === 'date') return isoDateArb;
  const fromPattern = patterns.length ? matching(patterns[patterns.length - 1]!) : undefined;
  if (fromPattern) {
    // Cut to the length bound (which may break the pattern now and then: fine for a fuzz).
    return max === Infinity ? fromPattern : fromPattern.map((s) => s.slice(0, max));
  }
  const cap = Math.max(min, Math.min(max, 60));
  return fc.oneof(
    { weight: 3, arbitrary: sentence.map((s) => (s.length < min ? s.padEnd(min, 'x') : s).slice(0, max === Infinity ? undefined : max)) },
    { weight: 2, arbitrary: fc.string({ minLength: min, maxLength: cap }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: min, maxLength: cap }) },
  );
}

function plausibleNumber(def: Def): fc.Arbitrary<number> {
  const checks = checksOf(def);
  const integer = checks.some((c) => c.check === 'number_format' && /int/.test(c.format ?? ''));
  let min = -1e6;
  let max = 1e6;
  for (const c of checks) {
    if (c.check === 'greater_than' && c.value !== undefined) min = c.inclusive ? c.value : c.value + (integer ? 1 : Number.EPSILON);
    if (c.check === 'less_than' && c.value !== undefined) max = c.inclusive ? c.value : c.value - (integer ? 1 : Number.EPSILON);
  }
  return integer
    ? fc.oneof({ weight: 4, arbitrary: fc.integer({ min, max }) }, { weight: 1, arbitrary: fc.constantFrom(min, max) })
    : fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
}

export const isoDateTimeArb: fc.Arbitrary<string> = fc.oneof(
  fc.integer({ min: -400, max: 400 }).map((d) => new Date(Date.now() + d * 86_400_000).toISOString()),
  fc
    .date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true })
    .map((d) => d.toISOString()),
  fc.constantFrom(
    '2026-02-29T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '0000-01-01T00:00:00Z',
    '2026-06-01T12:00:00+15:59',
    '2026-06-01T12:00:00-23:59',
    '2026-06-01T24:00:00Z',
    '2026-06-01T12:00:00.123456789Z',
    '2026-06-01',
  ),
);
export const isoDateArb: fc.Arbitrary<string> = fc.oneof(
  fc.integer({ min: -400, max: 2_000 }).map((d) => new Date(Date.now() + d * 86_400_000).toISOString().slice(0, 10)),
  fc.constantFrom('0000-01-01', '9999-12-31', '2026-02-30', '2026-1-1', '20260101'),
);

/**
 * A plausible value for the schema. Unknown schema types (transforms on their own, records, lazy
 * schemas) give arbitrary JSON, which is plausible enough for a fuzz.
 */
export function arbitraryFor(schema: z.ZodType, opts: GenOptions = {}, key?: string, depth = 0): fc.Arbitrary<unknown> {
  const def = defOf(schema);
  const hint = key !== undefined ? opts.hints?.[key] : undefined;
  const leaf = (plausible: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> => {
    const base = hint ?? plausible;
    const rate = Math.round((opts.hostileRate ?? 0) * 100);
    return rate > 0 ? fc.oneof({ weight: 100 - rate, arbitrary: base }, { weight: rate, arbitrary: hostileString }) : base;
  };
  if (depth > 12) return fc.constant(null);
  switch (def.type) {
    case 'object': {
      if (hint) return hint;
      const shape = def.shape ?? {};
      const required: string[] = [];
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, child] of Object.entries(shape)) {
        model[k] = arbitraryFor(child, opts, k, depth + 1);
        const t = defOf(child).type;
        const optional = t === 'optional' || t === 'default' || t === 'prefault';
        if (!optional) required.push(k);
      }
      const omit = Math.round((opts.omitRate ?? 0.4) * 100);
      if (omit >= 100) return fc.record(model, { requiredKeys: required });
      // Optional fields: present or absent, each on its own.
      const optionalKeys = Object.keys(model).filter((k) => !required.includes(k));
      return fc
        .tuple(
          fc.record(model),
          fc.array(fc.integer({ min: 0, max: 99 }), { minLength: optionalKeys.length, maxLength: optionalKeys.length }),
        )
        .map(([value, dice]) => {
          const out: Record<string, unknown> = { ...value };
          optionalKeys.forEach((k, i) => {
            if ((dice[i] ?? 0) < omit) delete out[k];
          });
          return out;
        });
    }
    case 'array': {
      if (hint) return fc.array(hint, { minLength: 1, maxLength: 3 });
      const checks = checksOf(def);
      const min = Math.max(0, ...checks.filter((c) => c.check === 'min_length').map((c) => c.minimum ?? 0));
      const maxes = checks.filter((c) => c.check === 'max_length').map((c) => c.maximum ?? Infinity);
      const max = maxes.length ? Math.min(...maxes) : Infinity;
      return fc.array(arbitraryFor(def.element!, opts, key === undefined ? undefined : `${key}[]`, depth + 1), {
        minLength: min,
        maxLength: Math.max(min, Math.min(max, min + 3)),
      });
    }
    case 'union':
      return hint ?? fc.oneof(...(def.options ?? []).map((o) => arbitraryFor(o, opts, key, depth + 1)));
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
    case 'nonoptional':
      return arbitraryFor(def.innerType!, opts, key, depth + 1);
    case 'pipe':
      return arbitraryFor(def.in!, opts, key, depth + 1);
    case 'intersection':
      return arbitraryFor(def.left!, opts, key, depth + 1);
    case 'lazy':
      return arbitraryFor(def.getter!(), opts, key, depth + 1);
    case 'enum':
      return leaf(fc.constantFrom(...Object.values(def.entries ?? { x: 'x' })));
    case 'literal':
      return leaf(fc.constantFrom(...((def.values ?? [null]) as unknown[])));
    case 'string':
      return leaf(plausibleString(def));
    case 'number':
      return hint ?? plausibleNumber(def);
    case 'boolean':
      return hint ?? fc.boolean();
    case 'record':
      return fc.dictionary(fc.string({ maxLength: 10 }), arbitraryFor(def.valueType!, opts, undefined, depth + 1), { maxKeys: 3 });
    default:
      return hint ?? fc.jsonValue({ maxDepth: 2 });
  }
}
