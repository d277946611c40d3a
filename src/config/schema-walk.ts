// Reads the shape of the zod schema itself: which keys are valid at a path (for "did you mean")
// and the list of every documented field path (for the docs-sync test).
import type * as z from 'zod';

// Zod v4 exposes each schema's definition on `_zod.def`; only these fields are read here.
interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  valueType?: z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
  getter?: () => z.ZodType;
  values?: readonly unknown[];
}

function def(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional']);

/** The schemas a value at this schema may match, with wrappers removed and unions spread out. */
function variants(schema: z.ZodType): z.ZodType[] {
  const d = def(schema);
  if (WRAPPERS.has(d.type) && d.innerType) return variants(d.innerType);
  if (d.type === 'pipe' && d.in) return variants(d.in);
  if (d.type === 'lazy' && d.getter) return variants(d.getter());
  if (d.type === 'union' && d.options) return d.options.flatMap(variants);
  return [schema];
}

function children(schema: z.ZodType, segment: PropertyKey): z.ZodType[] {
  const d = def(schema);
  if (d.type === 'object' && d.shape && typeof segment === 'string' && Object.prototype.hasOwnProperty.call(d.shape, segment)) {
    return [d.shape[segment]!];
  }
  if (d.type === 'record' && d.valueType && typeof segment === 'string') return [d.valueType];
  if (d.type === 'array' && d.element && typeof segment === 'number') return [d.element];
  return [];
}

function variantsAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodType[] {
  let current = variants(schema);
  for (const segment of path) current = current.flatMap((s) => children(s, segment)).flatMap(variants);
  return current;
}

/** The kinds of value (`number`, `boolean`, `string`, `object`, ...) the schema accepts at `path`. */
export function typesAt(schema: z.ZodType, path: readonly PropertyKey[]): Set<string> {
  return new Set(variantsAt(schema, path).map((s) => def(s).type));
}

/** The values of the literals the schema accepts at `path` beside other kinds (`false` for `ledger.spill_dir`). */
export function literalsAt(schema: z.ZodType, path: readonly PropertyKey[]): unknown[] {
  return variantsAt(schema, path).flatMap((s) => (def(s).type === 'literal' ? [...(def(s).values ?? [])] : []));
}

/**
 * What the field at `path` expects, in words, when its schema says (`.meta({ expected })`): a window size
 * is a string to zod, but "expected a string" tells nobody to write `1 hour`.
 */
export function expectedAt(schema: z.ZodType, path: readonly PropertyKey[]): string | undefined {
  for (const s of variantsAt(schema, path)) {
    const expected = (s.meta() as { expected?: unknown } | undefined)?.expected;
    if (typeof expected === 'string') return expected;
  }
  return undefined;
}

/** The valid keys of the mapping(s) the schema expects at `path`. */
export function validKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  const keys = new Set<string>();
  for (const s of variantsAt(schema, path)) {
    const d = def(s);
    if (d.type === 'object' && d.shape) for (const key of Object.keys(d.shape)) keys.add(key);
  }
  return [...keys];
}

/** Every field path the schema accepts, e.g. `server.port`, `projects.<name>.daily_limit`, `keys[].id`. */
export function fieldPaths(schema: z.ZodType): string[] {
  const out = new Set<string>();
  const visit = (s: z.ZodType, prefix: string, depth: number): void => {
    if (depth > 20) return; // Recursive schemas would loop; none exist today.
    for (const v of variants(s)) {
      const d = def(v);
      if (d.type === 'object' && d.shape) {
        for (const [key, child] of Object.entries(d.shape)) {
          const path = prefix ? `${prefix}.${key}` : key;
          out.add(path);
          visit(child, path, depth + 1);
        }
      } else if (d.type === 'record' && d.valueType) {
        visit(d.valueType, `${prefix}.<name>`, depth + 1);
      } else if (d.type === 'array' && d.element) {
        visit(d.element, `${prefix}[]`, depth + 1);
      }
    }
  };
  visit(schema, '', 0);
  return [...out].sort();
}
