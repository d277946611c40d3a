// `${VAR}` / `${VAR:-default}` substitution in config values, done on the YAML scalars
// (not on the raw text) so a value can never inject YAML structure and errors keep their line.

/** The result of substituting environment variables into one string. */
export interface Interpolated {
  value: string;
  /** True when at least one `${...}` was substituted (an escaped `$${` does not count). */
  substituted: boolean;
  /** Variables referenced without a default that are not set. */
  missing: string[];
  /** `${...}` expressions that are not `${NAME}` or `${NAME:-default}`. */
  malformed: string[];
  /** `${NAME:-...}` whose default holds another `${...}`: not supported, and never read as literal text. */
  nested: string[];
  /** Each value taken from the environment, alone: a message naming part of a scalar must not show them either. */
  fromEnv: string[];
}

// An expression may hold one inner `${...}`, matched whole so that a nested default is reported as
// written rather than cut at the inner `}` (which would leave the literal `${B}` as the value). The inner
// one stops at the next `$` or `{`: scanning on to the end from every `${` made a run of them cubic.
const EXPR = /\$\$\{|\$\{((?:\$\{[^${}]*\}|[^}])*)\}|\$\{/g;
const INNER = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

/**
 * Substitutes `${VAR}` and `${VAR:-default}` from `env`; `$${` stands for a literal `${`. A variable
 * without a default that is not set becomes `standIn(name)` if given, else nothing (listed in `missing`).
 */
export function interpolate(text: string, env: NodeJS.ProcessEnv, standIn?: (name: string) => string): Interpolated {
  const result: Interpolated = { value: text, substituted: false, missing: [], malformed: [], nested: [], fromEnv: [] };
  if (!text.includes('${')) return result;
  result.value = text.replace(EXPR, (match: string, inner: string | undefined) => {
    if (match === '$${') return '${';
    if (inner === undefined) {
      result.malformed.push(match);
      return match;
    }
    const parts = INNER.exec(inner);
    if (!parts) {
      result.malformed.push(match);
      return match;
    }
    const [, name, fallback] = parts;
    if (fallback?.includes('${')) {
      result.nested.push(match);
      return match;
    }
    const set = env[name!];
    result.substituted = true;
    if (set) result.fromEnv.push(set);
    // Shell semantics: `:-` also replaces a variable that is set but empty.
    if (fallback !== undefined) return set ? set : fallback;
    if (set === undefined) {
      result.missing.push(name!);
      return standIn ? standIn(name!) : '';
    }
    return set;
  });
  return result;
}
