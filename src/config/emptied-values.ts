// A field whose `${VAR}` came out empty counts as not written (docs/configuration.md), so the schema
// says "required field is missing" about a field the file plainly has. These notes say why.
import type { ConfigIssue } from './config-error.js';
import { formatPath } from './config-error.js';
import { valueAt } from './unset-stand-ins.js';

/** A field left out because its value interpolated to the empty string. */
export interface EmptiedField {
  path: (string | number)[];
  file: string;
  line: number;
  /** Why it is empty, naming only variables (`DAILY is set to the empty string`), never values. */
  why: string;
}

// `$${` is a literal, not a variable.
const VARIABLE = /\$?\$\{([A-Za-z_][A-Za-z0-9_]*)/g;

/** Why `written` (a scalar as written, `${DAILY}`) interpolated to nothing under `env`. */
export function whyEmpty(written: string, env: NodeJS.ProcessEnv): string {
  const reasons: string[] = [];
  for (const [expr, name] of written.matchAll(VARIABLE)) {
    if (expr.startsWith('$$')) continue;
    const value = env[name!];
    if (value === undefined) reasons.push(`${name} is not set`);
    else if (value === '') reasons.push(`${name} is set to the empty string`);
  }
  return reasons.length > 0 ? [...new Set(reasons)].join(', ') : 'its `${...}` came out empty';
}

/**
 * The emptied fields of each file (in merge order) at their paths in the merged config: the `keys` lists
 * are concatenated, so a later file's `keys[0]` is the merged list's `keys[n]`.
 */
export function mergedEmptied(files: ReadonlyArray<{ value: Record<string, unknown> | null; emptied: readonly EmptiedField[] }>): EmptiedField[] {
  const out: EmptiedField[] = [];
  let keysBefore = 0;
  for (const { value, emptied } of files) {
    for (const e of emptied) {
      const [section, index, ...rest] = e.path;
      out.push(section === 'keys' && typeof index === 'number' ? { ...e, path: ['keys', keysBefore + index, ...rest] } : e);
    }
    const keys = value?.keys;
    if (Array.isArray(keys)) keysBefore += keys.length;
  }
  return out;
}

/**
 * Adds to each issue about a missing field, or about the mapping that lacks it, the field written there
 * that came out empty, and why; an issue about the field itself moves to the field's line. `root` is the
 * merged config: a field a later file set again is not missing.
 */
export function explainEmptied(issues: ConfigIssue[], emptied: readonly EmptiedField[], root: unknown): ConfigIssue[] {
  const missing = emptied.filter((e) => valueAt(root, e.path) === undefined);
  if (missing.length === 0) return issues;
  return issues.map((issue) => {
    const own = missing.find((e) => formatPath(e.path) === issue.path);
    // Of the mapping's emptied fields, those the message is about (`set exactly one of \`key\` ...`).
    const children = own ? [] : missing.filter((e) => formatPath(e.path.slice(0, -1)) === issue.path && issue.message.includes(`\`${String(e.path.at(-1))}\``));
    const notes = (own ? [own] : children).map((e) => {
      const where = e.file === (own ? e.file : issue.file) ? `line ${e.line}` : `${e.file}:${e.line}`;
      return `\`${String(e.path.at(-1))}\` at ${where} is empty (${e.why})`;
    });
    if (notes.length === 0) return issue;
    const message = `${issue.message}: ${notes.join('; ')}, and an empty value counts as not written`;
    return own ? { ...issue, file: own.file, line: own.line, message } : { ...issue, message };
  });
}
