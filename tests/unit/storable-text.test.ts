import fc from 'fast-check';
import type { z } from 'zod';
import { OPERATIONS } from '../../api/openapi';
import * as steps from '../../domain/lifecycle';
import { freeText, isStorableText, lineText, storableCopy } from '../../domain/text';
import { stringLeaves } from '../helpers/zod-strings';

/** Characters no stored text may hold: NUL, the other C0 controls, DEL, and lone surrogates. */
const UNSTORABLE = [
  ...Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).filter((c) => !'\t\n\r'.includes(c)),
  '\u007f',
  '\ud800',
  '\udbff',
  '\udc00',
  '\udfff',
];
/** A lone surrogate is unstorable; a well-formed pair is an ordinary character (an emoji). */
const hostile = fc
  .tuple(fc.string({ maxLength: 30 }), fc.constantFrom(...UNSTORABLE), fc.string({ maxLength: 30 }))
  .filter(([before, , after]) => !/[\ud800-\udbff]$/.test(before) && !/^[\udc00-\udfff]/.test(after))
  .map(([before, bad, after]) => `${before}${bad}${after}`);

describe('storable text', () => {
  it('is refused when it holds a control character or a lone surrogate, and kept otherwise', () => {
    fc.assert(fc.property(hostile, (s) => !isStorableText(s)));
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 50 }).filter((s) => !/[\u0000-\u001f\u007f]/.test(s)),
        (s) => isStorableText(s, false),
      ),
    );
    expect(isStorableText('line one\nline two\ttabbed\r\n')).toBe(true);
    expect(isStorableText('line one\nline two', false)).toBe(false);
    expect(isStorableText('Überprüfung 😀 — 検査')).toBe(true);
  });

  it('refuses through the shared schemas naming the rule, never the value; a storable copy replaces what cannot be stored', () => {
    const issue = freeText(100).safeParse('Chargen\u0000ABC').error!.issues[0]!;
    expect(issue.message).toBe('control characters are not allowed');
    expect(lineText(100).safeParse('x\ud800y').error!.issues[0]!.message).toMatch(/lone surrogate/);
    expect(freeText(10).safeParse('  trimmed  ').data).toBe('trimmed');
    expect(storableCopy('a\u0000b\ud800c😀')).toBe('a\ufffdb\ufffdc😀');
  });

  /** Every body and query schema of the API (from the OpenAPI operations) and every Update payload schema. */
  const schemas: Array<[string, z.ZodType]> = [
    ...OPERATIONS.flatMap((op) => [
      ...(op.body ? [[`${op.method.toUpperCase()} ${op.path} body`, op.body] as [string, z.ZodType]] : []),
      ...(op.query ? [[`${op.method.toUpperCase()} ${op.path} query`, op.query] as [string, z.ZodType]] : []),
    ]),
    ...Object.entries(steps)
      .filter(([name, value]) => name.endsWith('Schema') && typeof value === 'object' && value !== null && '_zod' in value)
      .map(([name, value]) => [`Update payload ${name}`, value as z.ZodType] as [string, z.ZodType]),
  ];
  const leaves = schemas.flatMap(([name, schema]) => stringLeaves(schema).map((leaf) => ({ ...leaf, name: `${name}: ${leaf.path}` })));

  it('finds the string fields of every API schema', () => {
    expect(schemas.length).toBeGreaterThan(30);
    expect(leaves.length).toBeGreaterThan(80);
  });

  it.each(leaves.map((l) => [l.name, l] as const))('%s refuses unstorable text without quoting it', (_name, leaf) => {
    fc.assert(
      fc.property(hostile, (s) => {
        const parsed = leaf.schema.safeParse(s);
        if (parsed.success) return false;
        return parsed.error.issues.every(
          (i) => !i.message.includes(s) && !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ud800-\udfff]/u.test(i.message),
        );
      }),
      { numRuns: 60 },
    );
  });
});
