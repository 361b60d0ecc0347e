import type { z } from 'zod';

/** A string field found inside a schema, with the path a client would name it by. */
export interface StringLeaf {
  path: string;
  schema: z.ZodType;
}

/** What zod 4 keeps of a schema's checks (min, max, regex, format...). */
export interface CheckDef {
  check: string;
  format?: string;
  pattern?: RegExp;
  minimum?: number;
  maximum?: number;
  value?: number;
  inclusive?: boolean;
}

/** What zod 4 keeps of a schema under `_zod.def`, as far as the tests walk it. */
export interface Def {
  type: string;
  innerType?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  options?: z.ZodType[];
  in?: z.ZodType;
  out?: z.ZodType;
  left?: z.ZodType;
  right?: z.ZodType;
  keyType?: z.ZodType;
  valueType?: z.ZodType;
  getter?: () => z.ZodType;
  entries?: Record<string, string | number>;
  values?: unknown[];
  checks?: Array<{ _zod: { def: CheckDef } }>;
  format?: string;
  pattern?: RegExp;
  coerce?: boolean;
}

export const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/**
 * Every string-typed leaf of a zod schema (objects, arrays, unions, optionals, defaults, pipes):
 * the places where a client's free text enters. Tests check each one on its own, so a rule that
 * only holds because a sibling field happened to be invalid cannot pass for the field.
 */
export function stringLeaves(schema: z.ZodType, path = '(body)', seen = new Set<z.ZodType>()): StringLeaf[] {
  if (seen.has(schema)) return [];
  seen.add(schema);
  const def = defOf(schema);
  const at = (key: string) => (path === '(body)' ? key : `${path}.${key}`);
  switch (def.type) {
    case 'string':
      return [{ path, schema }];
    case 'object':
      return Object.entries(def.shape ?? {}).flatMap(([key, child]) => stringLeaves(child, at(key), seen));
    case 'array':
      return stringLeaves(def.element!, at('0'), seen);
    case 'union':
      return (def.options ?? []).flatMap((o) => stringLeaves(o, path, seen));
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
    case 'nonoptional':
      return stringLeaves(def.innerType!, path, seen);
    case 'pipe':
      return stringLeaves(def.in!, path, seen);
    case 'intersection':
      return [...stringLeaves(def.left!, path, seen), ...stringLeaves(def.right!, path, seen)];
    case 'record':
      return [...stringLeaves(def.keyType!, at('(key)'), seen), ...stringLeaves(def.valueType!, at('(value)'), seen)];
    case 'lazy':
      return stringLeaves(def.getter!(), path, seen);
    default:
      return [];
  }
}
