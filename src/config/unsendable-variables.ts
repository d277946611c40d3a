// A secret pasted with a trailing newline most often arrives through `${VAR}`, and the file shows
// only `${VAR}`: an error about that field says which variable carried the character, so the fix
// is made where the variable is set. Names only, never values.
import type { ConfigIssue } from './config-error.js';
import { formatPath } from './config-error.js';
import type { EmptiedField } from './emptied-values.js';
import { unsendableCharacter } from './header-value.js';

// `$${` is a literal, not a variable (as in emptied-values.ts).
const VARIABLE = /\$?\$\{([A-Za-z_][A-Za-z0-9_]*)/g;

/** Which variables in `written` (a scalar as written) put a character no HTTP header can carry into it; undefined if none did. */
export function unsendableVariables(written: string, env: NodeJS.ProcessEnv): string | undefined {
  const names = new Set<string>();
  for (const [expr, name] of written.matchAll(VARIABLE)) {
    const value = env[name!];
    if (!expr.startsWith('$$') && value && unsendableCharacter(value)) names.add(`\${${name}}`);
  }
  if (names.size === 0) return undefined;
  return `it comes from ${[...names].join(' and ')}: fix it where ${names.size === 1 ? 'that variable is' : 'they are'} set`;
}

/** Adds to each issue about a field in `fields` (at merged paths) the variables that carried the character. */
export function nameUnsendableVariables(issues: ConfigIssue[], fields: readonly EmptiedField[]): ConfigIssue[] {
  if (fields.length === 0) return issues;
  return issues.map((issue) => {
    const field = fields.find((f) => formatPath(f.path) === issue.path);
    return field ? { ...issue, message: `${issue.message}; ${field.why}` } : issue;
  });
}
