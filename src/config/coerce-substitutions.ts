// An unquoted `${VAR}` should read as if its value had been written in place: `port: ${PORT}`
// is a number. But a secret such as `key: ${ALICE_KEY}` must stay text even when it looks like
// `123456` or `true`, so the schema's expected type at that field decides.
import { parse } from 'yaml';
import type * as z from 'zod';
import { literalsAt, typesAt } from './schema-walk.js';
import type { PlainSubstitution } from './yaml-source.js';

/** Turns substituted unquoted values into numbers or booleans where the schema expects those (and not text), or names that keyword. */
export function coerceSubstitutions(schema: z.ZodType, substitutions: readonly PlainSubstitution[]): void {
  for (const { container, key, path } of substitutions) {
    const text = (container as Record<string | number, unknown>)[key];
    if (typeof text !== 'string') continue;
    const types = typesAt(schema, path);
    const literals = literalsAt(schema, path);
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
