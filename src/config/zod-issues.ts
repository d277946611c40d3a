// Rewrites zod's issues as messages for people editing YAML: named types ("a mapping", not
// "object"), one line per unknown key with a "did you mean", unions explained, no values echoed.
import type * as z from 'zod';
import { formatPath } from './config-error.js';
import type { ConfigIssue } from './config-error.js';
import type { Loc, LocIndex } from './loc-index.js';
import { expectedAt, validKeysAt } from './schema-walk.js';
import { didYouMean } from './suggest.js';

type ZodIssue = z.core.$ZodIssue;
type Path = PropertyKey[];

/** What is needed to place an issue: the schema, the merged input and its locations. */
export interface IssueContext {
  schema: z.ZodType;
  root: unknown;
  rootLoc: Loc;
  locs: LocIndex;
}

const EXPECTED: Record<string, string> = {
  number: 'a number',
  int: 'a whole number',
  string: 'a string',
  boolean: '`true` or `false`',
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
  map: 'a mapping',
};

/** Converts zod issues for the merged config into located ConfigIssues. */
export function toConfigIssues(issues: readonly ZodIssue[], ctx: IssueContext): ConfigIssue[] {
  return flatten(issues, [], ctx).map(({ path, message }) => {
    const loc = ctx.locs.lookup(ctx.root, ctx.rootLoc, path);
    return { file: loc.file, line: loc.line, path: formatPath(path), message: message + fromOtherFiles(ctx, path, message, loc.file) };
  });
}

/**
 * Of the fields a message about a mapping names, those another file wrote: files merge mappings key by
 * key, so an overlay's `max_cost_usd` meets the base's `max_token`, which the line blamed does not show.
 */
function fromOtherFiles(ctx: IssueContext, path: Path, message: string, file: string): string {
  const value = valueAt(ctx.root, path);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return '';
  const notes = Object.keys(value).flatMap((key) => {
    const loc = ctx.locs.get(value, key);
    return loc !== undefined && loc.file !== file && message.includes(`\`${key}\``) ? [`\`${key}\` comes from ${loc.file}:${loc.line}`] : [];
  });
  return notes.length === 0 ? '' : ` (${notes.join(', ')}: the files' mappings are merged key by key)`;
}

interface Flat {
  path: Path;
  message: string;
}

function flatten(issues: readonly ZodIssue[], prefix: Path, ctx: IssueContext): Flat[] {
  return issues.flatMap((issue) => explain(issue, [...prefix, ...issue.path], ctx));
}

function explain(issue: ZodIssue, path: Path, ctx: IssueContext): Flat[] {
  switch (issue.code) {
    case 'unrecognized_keys': {
      const valid = validKeysAt(ctx.schema, path);
      return issue.keys.map((key) => ({ path: [...path, key], message: `unknown key \`${key}\` (${didYouMean(key, valid)})` }));
    }
    case 'invalid_union':
      return explainUnion(issue, path, ctx);
    case 'invalid_type': {
      const actual = valueAt(ctx.root, path);
      const expected = expectedAt(ctx.schema, path) ?? expectedName(issue.expected);
      if (actual === undefined) return [{ path, message: `required field is missing (expected ${expected})` }];
      return [{ path, message: `expected ${expected}, got ${gotWhat([issue.expected], actual, expected)}` }];
    }
    case 'invalid_value': {
      const choices = issue.values.map((v) => `\`${String(v)}\``).join(', ');
      const actual = valueAt(ctx.root, path);
      if (actual === undefined) return [{ path, message: `required field is missing (one of ${choices})` }];
      // Enumerations hold keywords, never secrets, so the written value can be shown.
      if (typeof actual === 'string' && actual.length <= 40) {
        const hint = didYouMean(actual, issue.values.map(String));
        return [{ path, message: `\`${actual}\` is not one of ${choices}${hint.startsWith('did') ? ` (${hint})` : ''}` }];
      }
      return [{ path, message: `expected one of ${choices}, got ${describe(actual)}` }];
    }
    case 'too_small':
      return [{ path, message: tooSmall(issue) }];
    case 'too_big':
      return [{ path, message: tooBig(issue) }];
    case 'not_multiple_of':
      return [{ path, message: `must be a multiple of ${String(issue.divisor)}` }];
    case 'invalid_key':
      return issue.issues.slice(0, 1).map((inner) => ({ path, message: inner.message }));
    case 'invalid_element':
      return flatten(issue.issues, path, ctx);
    default:
      return [{ path, message: issue.message }];
  }
}

// A union fails as a whole; say what it accepts when the value had the wrong type for every
// option, otherwise report the option that the value evidently meant (e.g. the long form).
function explainUnion(issue: ZodIssue & { code: 'invalid_union' }, path: Path, ctx: IssueContext): Flat[] {
  const isTypeMismatch = (branch: readonly ZodIssue[]): boolean =>
    branch.every((i) => i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'invalid_value'));
  const meant = issue.errors.find((branch) => !isTypeMismatch(branch));
  if (meant) return flatten(meant, path, ctx);
  const actual = valueAt(ctx.root, path);
  // A string where one option is a keyword list was almost surely a misspelt keyword.
  const keywords = issue.errors.find((branch) => branch.some((i) => i.code === 'invalid_value'));
  if (typeof actual === 'string' && keywords) return flatten(keywords, path, ctx);
  const expected = new Set<string>();
  for (const branch of issue.errors) {
    for (const i of branch) {
      if (i.code === 'invalid_type') expected.add(expectedName(i.expected));
      if (i.code === 'invalid_value') for (const v of i.values) expected.add(`\`${String(v)}\``);
    }
  }
  const names = [...expected];
  const list = names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names.at(-1)}` : (names[0] ?? 'another value');
  if (actual === undefined) return [{ path, message: `required field is missing (expected ${list})` }];
  const types = issue.errors.flatMap((branch) => branch.flatMap((i) => (i.code === 'invalid_type' ? [i.expected] : [])));
  return [{ path, message: `expected ${list}, got ${gotWhat(types, actual, list)}` }];
}

// YAML 1.1 (Ansible, older Kubernetes tooling) read these as booleans; YAML 1.2, which Tollgate reads, as text.
const YAML11_BOOLEANS: Record<string, boolean> = { yes: true, y: true, on: true, no: false, n: false, off: false };
// `10M`, `1_000_000`, `500,000`, `2.5k`: a number as people write it, which YAML 1.2 reads as text.
const NUMBER_AS_WRITTEN = /^[+-]?\d[\d_,' ]*(\.\d+)?\s*[kmgbt]?$/i;
const PLAIN_NUMBER = /^[+-]?\d+(\.\d+)?$/;

/**
 * What a value of the wrong type is, with a hint when YAML read it otherwise than its author meant. The
 * value is shown only when it is a YAML keyword (`yes`, `off`), as it may have come from the environment.
 */
/** `key:value` as one word of text, as YAML reads a key whose colon has no space after it. */
const KEY_GLUED_TO_VALUE = /^([A-Za-z_][\w-]*):(\S.*)$/;

function gotWhat(expectedTypes: readonly string[], actual: unknown, expected: string): string {
  const what = describe(actual);
  if (typeof actual === 'number' && Number.isFinite(actual) && expected.startsWith('a window size')) {
    return `${what} (a number has no unit: write one, e.g. \`${actual} seconds\`)`;
  }
  // `project: 007`, `model_id: 3.5`, `key: 12345678`: text YAML reads as a number (or `true` as a boolean).
  if ((typeof actual === 'number' || typeof actual === 'boolean') && expectedTypes.length > 0 && expectedTypes.every((t) => t === 'string')) {
    return `${what} (YAML reads it so unquoted: put it in quotes to make it text)`;
  }
  if (typeof actual !== 'string') return what;
  const keyword = actual.trim().toLowerCase();
  if (expectedTypes.includes('boolean') && (keyword === 'true' || keyword === 'false')) {
    return `\`"${keyword}"\`, which is text in quotes: write \`${keyword}\` without quotes`;
  }
  if (expectedTypes.includes('boolean') && Object.prototype.hasOwnProperty.call(YAML11_BOOLEANS, keyword)) {
    return `\`${actual}\`, which YAML reads as text: write \`${String(YAML11_BOOLEANS[keyword])}\``;
  }
  if (expectedTypes.some((t) => t === 'number' || t === 'int') && NUMBER_AS_WRITTEN.test(actual.trim())) {
    if (PLAIN_NUMBER.test(actual.trim())) return `${what} (a number in quotes is text: write it without quotes)`;
    return `${what} (write the whole number without suffixes or separators, e.g. \`10000000\`, not \`10M\` or \`10_000_000\`)`;
  }
  // `server:\n  port:4000` is valid YAML: the section's only line, without a space after its colon, is text.
  const glued = KEY_GLUED_TO_VALUE.exec(actual);
  if ((expectedTypes.includes('object') || expectedTypes.includes('record')) && glued) {
    return `${what} (a \`:\` without a space after it does not end a key: write \`${glued[1]}: ${glued[2]}\`, with a space after the colon)`;
  }
  return what;
}

function tooSmall(issue: ZodIssue & { code: 'too_small' }): string {
  const min = Number(issue.minimum);
  if (issue.origin === 'array') return `must have at least ${min} item${min === 1 ? '' : 's'}`;
  if (issue.origin === 'string') return min === 1 ? 'must not be empty' : `must be at least ${min} characters long`;
  return issue.inclusive ? `must be at least ${min}` : `must be greater than ${min}`;
}

function tooBig(issue: ZodIssue & { code: 'too_big' }): string {
  const max = Number(issue.maximum);
  if (issue.origin === 'array') return `must have at most ${max} items`;
  if (issue.origin === 'string') return `must be at most ${max} characters long`;
  if (issue.origin === 'int' && max === Number.MAX_SAFE_INTEGER) return 'is too large';
  return issue.inclusive ? `must be at most ${max}` : `must be less than ${max}`;
}

function expectedName(expected: string): string {
  return EXPECTED[expected] ?? `a ${expected}`;
}

/** Names the type of a YAML value without showing the value (it may be a secret). */
function describe(value: unknown): string {
  if (value === null) return 'nothing (an empty value)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return '`.nan` (not a number)';
    if (!Number.isFinite(value)) return 'infinity (for no limit, leave the field out)';
    return Number.isInteger(value) ? 'a whole number' : 'a number with a fraction';
  }
  if (typeof value === 'boolean') return '`true`/`false`';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'object') return 'a mapping';
  return typeof value;
}

function valueAt(root: unknown, path: Path): unknown {
  let node = root;
  for (const seg of path) {
    if (node === null || typeof node !== 'object' || typeof seg === 'symbol') return undefined;
    if (!Object.prototype.hasOwnProperty.call(node, seg)) return undefined;
    node = (node as Record<string | number, unknown>)[seg];
  }
  return node;
}
