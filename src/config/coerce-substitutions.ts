// An unquoted `${VAR}` should read as if its value had been written in place: `port: ${PORT}`
// is a number. But a secret such as `key: ${ALICE_KEY}` must stay text even when it looks like
// `123456` or `true`, so the schema's expected type at that field decides.
import { parse } from 'yaml';
import type * as z from 'zod';
import { literalsAt, typesAt } from './schema-walk.js';
import type { PlainSubstitution } from './yaml-source.js';

/** Turns substituted unquoted values into numbers or booleans where the schema expects those (and not text), or names that keyword. */
export function coerceSubstitutions(schema: z.ZodType, substitutions: readonly PlainSubstitution[]): void {
  const expected = expectedAt(schema);
  for (const { container, key, path } of substitutions) {
    const text = (container as Record<string | number, unknown>)[key];
    if (typeof text !== 'string') continue;
    const { types, literals } = expected(path);
    if (types.has('string') && literals.length === 0) continue;
    let parsed: unknown;
    try {
      parsed = parse(text); // The YAML reading of the text, as if it had been written unquoted.
    } catch {
      continue;
    }
    // A field that takes text or a keyword (`spill_dir: false`) reads the keyword as if written in place.
    const keyword = literals.some((v) => v === parsed);
    const typed = !types.has('string') && ((typeof parsed === 'number' && types.has('number')) || (typeof parsed === 'boolean' && types.has('boolean')));
    if (keyword || typed) {
      (container as Record<string | number, unknown>)[key] = parsed;
    }
  }
}

interface Expected {
  types: Set<string>;
  literals: unknown[];
}

/**
 * What the schema expects at a path, read from the schema once per field: `keys[0].key` and `keys[9].key`
 * expect the same, and 10,000 keys with `key: ${VAR}` walked the schema 20,000 times.
 */
function expectedAt(schema: z.ZodType): (path: readonly (string | number)[]) => Expected {
  const known = new Map<string, Expected>();
  return (path) => {
    // A list index is any index (the schema has one element type); JSON keeps `0` apart from the name "0".
    const field = JSON.stringify(path.map((segment) => (typeof segment === 'number' ? 0 : segment)));
    let expected = known.get(field);
    if (!expected) {
      expected = { types: typesAt(schema, path), literals: literalsAt(schema, path) };
      known.set(field, expected);
    }
    return expected;
  };
}
