// `${VAR}` contains `{` and `}`, which YAML reads as flow-mapping brackets inside `{...}` and
// `[...]`, so SPEC's own one-line example (`server: {admin_key: ${TOLLGATE_ADMIN_KEY}}`) would not
// parse. Each expression is swapped for an inert word before parsing and swapped back in the
// parsed scalars, which keeps lines intact and still never lets a value become YAML structure.
import { randomBytes } from 'node:crypto';

/** Source text with `${...}` expressions hidden, and the function that puts them back into a parsed string. */
export interface Placeholders {
  text: string;
  restore(value: string): string;
}

// One line at most: an expression spanning lines is left to the YAML parser and reported as malformed later.
// A nested `${A:-${B}}` is hidden whole, so that its inner `}` cannot end a flow mapping; interpolation
// then refuses it by name. (The inner one stops at `$` and `{` for speed, as in interpolate.ts.)
const EXPRESSION = /\$?\$\{(?:\$\{[^${}\n]*\}|[^}\n])*\}/g;

/** Replaces every `${...}` (and `$${...}`) in `source` with a placeholder word. */
export function hideEnvExpressions(source: string): Placeholders {
  if (!source.includes('${')) return { text: source, restore: (value) => value };
  let nonce: string;
  do nonce = randomBytes(6).toString('hex');
  while (source.includes(nonce));
  const originals: string[] = [];
  const text = source.replace(EXPRESSION, (expr) => `__tollgate_env_${nonce}_${originals.push(expr) - 1}__`);
  const prefix = `__tollgate_env_${nonce}_`;
  const token = new RegExp(`${prefix}(\\d+)__`, 'g');
  // Called on every scalar and key of the file: most hold no placeholder, and a search is cheaper than a replace.
  return { text, restore: (value) => (value.includes(prefix) ? value.replace(token, (_m, i: string) => originals[Number(i)]!) : value) };
}
