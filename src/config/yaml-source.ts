// Turns one YAML file into plain data plus locations, substituting environment variables
// scalar by scalar so that every value, and every error about it, keeps its file and line.
import { isAlias, isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, visit } from 'yaml';
import { typoDistance } from './suggest.js';
import type { Alias, Document, Node, Pair, Scalar, YAMLMap } from 'yaml';
import { formatPath } from './config-error.js';
import type { ConfigIssue } from './config-error.js';
import { whyEmpty, type EmptiedField } from './emptied-values.js';
import { hideEnvExpressions } from './env-placeholders.js';
import { interpolate } from './interpolate.js';
import { unsendableVariables } from './unsendable-variables.js';
import type { Loc, LocIndex } from './loc-index.js';
import type { UnsetStandIns } from './unset-stand-ins.js';
import { parseYamlDocument } from './yaml-document.js';
import { yamlSyntaxIssues } from './yaml-syntax-issues.js';

/** An unquoted scalar that contained `${...}`: a string for now, maybe a number once the schema is known. */
export interface PlainSubstitution {
  container: Record<string, unknown> | unknown[];
  key: string | number;
  path: (string | number)[];
}

/** One parsed file: its data (null when unusable), where it starts, and what went wrong. */
export interface ConfigSource {
  file: string;
  value: Record<string, unknown> | null;
  rootLoc: Loc;
  issues: ConfigIssue[];
  substitutions: PlainSubstitution[];
  /** Every value an environment variable put in (so that error messages can leave them out). */
  envValues: string[];
  /** Fields left out because their `${VAR}` came out empty (so that errors about them can say so). */
  emptied: EmptiedField[];
  /** Fields whose `${VAR}` put in a character no HTTP header can carry, naming the variables (unsendable-variables.ts). */
  unsendable: EmptiedField[];
}

// A field whose value interpolated to the empty string (`${VAR:-}`) is treated as not written.
const ABSENT = Symbol('absent');
// Anchors let a small file expand enormously ("billion laughs"): 15 KB of aliases of aliases made 9 million
// values (4 s of a reload blocking every request), 50 KB a hundred million. Counted in values read through
// aliases, not in aliases, since one alias can bring thousands. 5,000 keys that each merge four fields read 25,000.
const MAX_ALIASED_VALUES = 250_000;

type Path = (string | number)[];

/** Top-level keys that are no section: places to define anchors. */
const EXTENSION_PREFIX = 'x-';

interface WalkContext {
  file: string;
  doc: Document;
  lines: LineCounter;
  env: NodeJS.ProcessEnv;
  locs: LocIndex;
  issues: ConfigIssue[];
  /** Values read through aliases so far, and whether their limit was reported (once). */
  aliasedValues: number;
  aliasLimitReported: boolean;
  aliasTargets: Map<Alias, Node>;
  resolving: Set<Node>;
  restore: (value: string) => string;
  standIns: UnsetStandIns | undefined;
  substitutions: PlainSubstitution[];
  envValues: string[];
  emptied: EmptiedField[];
  unsendable: EmptiedField[];
  // Set by walkScalar for its caller, which knows the container the value is stored in.
  lastWasPlainSubstitution: boolean;
}

/**
 * `text` with each lone carriage return (an old Mac editor's line end) as a line feed. YAML 1.2 takes CR,
 * LF and CRLF as line breaks alike, but the `yaml` library reads a lone CR as a space within the line: a
 * valid file was refused as one line of nested mappings, at line 1. One character for one, so every offset
 * and line number stays as it was.
 */
function withLineFeeds(text: string): string {
  return text.includes('\r') ? text.replace(/\r(?!\n)/g, '\n') : text;
}

/**
 * Parses `text` (the contents of `file`) into plain data, recording locations in `locs`. With `standIns`,
 * an unset variable is a marker from it rather than an issue (see unset-stand-ins.ts).
 */
export function parseConfigSource(file: string, text: string, env: NodeJS.ProcessEnv, locs: LocIndex, standIns?: UnsetStandIns): ConfigSource {
  const placeholders = hideEnvExpressions(withLineFeeds(text));
  const { doc, lines } = parseYamlDocument(placeholders.text);
  const rootLoc: Loc = { file, line: 1 };
  if (doc.errors.length > 0) {
    // A repeated key is valid YAML syntax apart from the repetition, so it can be named by its field.
    const duplicates = doc.errors.every((err) => err.code === 'DUPLICATE_KEY') ? duplicateKeys(placeholders.text, lines) : [];
    const issues: ConfigIssue[] =
      duplicates.length > 0
        ? duplicates.map(({ path, line, firstLine, merges }) => ({ file, line, path: formatPath(path), message: duplicateMessage(String(path.at(-1)), firstLine, merges) }))
        : yamlSyntaxIssues(file, placeholders.text, doc, lines);
    return { file, value: null, rootLoc, issues, substitutions: [], envValues: [], emptied: [], unsendable: [] };
  }
  const ctx: WalkContext = {
    file, doc, lines, env, locs, issues: [], aliasedValues: 0, aliasLimitReported: false, aliasTargets: aliasTargetsIn(placeholders.text, doc), resolving: new Set(), restore: placeholders.restore, standIns,
    substitutions: [], envValues: [], emptied: [], unsendable: [], lastWasPlainSubstitution: false,
  };
  const contents = doc.contents;
  if (contents === null || (isScalar(contents) && contents.value === null)) {
    // Most often a file caught half-written, or emptied by mistake: on a reload it would drop every
    // key. `{}` says "all defaults" on purpose.
    const message = 'the file is empty (or only comments); write `{}` to run on the defaults';
    return { file, value: null, rootLoc, issues: [{ file, line: 1, path: '', message }], substitutions: [], envValues: [], emptied: [], unsendable: [] };
  }
  rootLoc.line = lineOf(ctx, contents);
  const value = walk(ctx, contents, []);
  if (value === ABSENT || value === null || typeof value !== 'object' || Array.isArray(value)) {
    ctx.issues.push({ file, line: rootLoc.line, path: '', message: 'a config file must be a mapping of sections (server:, projects:, routes:, ...)' });
    return { file, value: null, rootLoc, issues: ctx.issues, substitutions: [], envValues: [], emptied: [], unsendable: [] };
  }
  return { file, value: value as Record<string, unknown>, rootLoc, issues: ctx.issues, substitutions: ctx.substitutions, envValues: ctx.envValues, emptied: ctx.emptied, unsendable: ctx.unsendable };
}

function lineOf(ctx: WalkContext, node: { range?: [number, number, number] | null } | null | undefined): number {
  const offset = node?.range?.[0];
  return offset === undefined ? 1 : ctx.lines.linePos(offset).line;
}

function issue(ctx: WalkContext, node: Node | null | undefined, path: Path, message: string): void {
  ctx.issues.push({ file: ctx.file, line: lineOf(ctx, node), path: formatPath(path), message });
}

// Assigning through defineProperty keeps a key named `__proto__` an ordinary (and then unknown) key.
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

// A whole value written as a shell reads a variable (`$OPENAI_API_KEY`), without the braces Tollgate needs.
const BARE_VARIABLE = /^\$([A-Za-z_][A-Za-z0-9_]*)$/;

// The tags of the YAML schema (`!!str`, `!!int`, ...) once expanded; `!` alone only marks a value as text.
const STANDARD_TAG_PREFIX = 'tag:yaml.org,2002:';

function walk(ctx: WalkContext, node: unknown, path: Path): unknown {
  ctx.lastWasPlainSubstitution = false;
  if (ctx.resolving.size > 0) ctx.aliasedValues++;
  if (node === null || node === undefined) return null;
  if (isNode(node) && node.tag !== undefined && node.tag !== '!' && !node.tag.startsWith(STANDARD_TAG_PREFIX)) {
    // The YAML library warns and keeps the value as written: `api_key: !ENV OPENAI_API_KEY` would send the
    // variable's name upstream as the key. Neither tag nor value is repeated: an unquoted secret that
    // starts with `!` reads as a tag.
    issue(ctx, node, path, 'a value that starts with `!` is a YAML tag, which Tollgate does not read (`!ENV NAME` would be the text `NAME`): for an environment variable write `${NAME}`; put the value in quotes if it is text');
    return null;
  }
  if (isAlias(node)) return walkAlias(ctx, node, path);
  if (isScalar(node)) return walkScalar(ctx, node, path);
  if (isMap(node)) {
    const map = walkMap(ctx, node, path);
    ctx.lastWasPlainSubstitution = false;
    return map;
  }
  if (isSeq(node)) {
    const out: unknown[] = [];
    for (const item of node.items) {
      const itemPath = [...path, out.length];
      const value = walk(ctx, item, itemPath);
      if (value === ABSENT) continue;
      if (ctx.lastWasPlainSubstitution) ctx.substitutions.push({ container: out, key: out.length, path: itemPath });
      ctx.locs.set(out, out.length, { file: ctx.file, line: lineOf(ctx, isNode(item) ? item : node) });
      out.push(value);
    }
    ctx.lastWasPlainSubstitution = false;
    return out;
  }
  issue(ctx, isNode(node) ? node : null, path, 'unsupported YAML node');
  return null;
}

// A file without `&` has no anchor to find: most configs, whose every node a search would visit.
function aliasTargetsIn(text: string, doc: Document): Map<Alias, Node> {
  return text.includes('&') ? aliasTargets(doc) : new Map();
}

/**
 * The node each alias names: the last node anchored so before it, as YAML has it. Found in one pass: the
 * library's Alias.resolve scans the document up to the alias each time, so 5,000 keys that each merge one
 * anchor (`<<: *key_defaults`) took a minute to load, and a reload blocked the gateway for as long.
 */
function aliasTargets(doc: Document): Map<Alias, Node> {
  const anchored = new Map<string, Node>();
  const targets = new Map<Alias, Node>();
  visit(doc, (_key, node) => {
    if (isAlias(node)) {
      const target = anchored.get(node.source);
      if (target) targets.set(node, target);
    } else if (isNode(node) && node.anchor) {
      anchored.set(node.anchor, node);
    }
  });
  return targets;
}

function walkAlias(ctx: WalkContext, node: Alias, path: Path): unknown {
  const target = ctx.aliasTargets.get(node);
  if (!target) {
    // The name is not repeated: an unquoted secret that starts with `*` reads as an alias too.
    const anchors: string[] = [];
    visit(ctx.doc, (_key, n) => {
      if (isNode(n) && n.anchor) anchors.push(n.anchor);
    });
    const near = anchors.find((a) => typoDistance(a, node.source) <= Math.max(1, Math.floor(a.length / 4)));
    const hint = near === undefined ? '' : ` (did you mean \`*${near}\`?)`;
    issue(ctx, node, path, `unknown alias${hint}: a value that starts with \`*\` names an anchor (\`&name\`) written above it; put the value in quotes if it is text`);
    return null;
  }
  if (ctx.resolving.has(target)) {
    issue(ctx, node, path, `alias *${node.source} expands recursively`);
    return null;
  }
  if (ctx.aliasedValues > MAX_ALIASED_VALUES) {
    if (!ctx.aliasLimitReported) issue(ctx, node, path, `aliases expand this file past ${MAX_ALIASED_VALUES} values (an alias of an alias multiplies them): write the values out, or alias less`);
    ctx.aliasLimitReported = true;
    return null;
  }
  ctx.resolving.add(target);
  try {
    return walk(ctx, target, path);
  } finally {
    ctx.resolving.delete(target);
  }
}

function walkScalar(ctx: WalkContext, node: Scalar, path: Path): unknown {
  if (typeof node.value !== 'string') return node.value;
  const unset = (name: string): string => `environment variable ${name} is not set (write \${${name}:-default} to give a default, or \${${name}:-} to make it optional)`;
  const standIns = ctx.standIns;
  const standIn = standIns && ((name: string) => standIns.standIn({ file: ctx.file, line: lineOf(ctx, node), path: formatPath(path), message: unset(name) }));
  const written = ctx.restore(node.value);
  const result = interpolate(written, ctx.env, standIn);
  // A stand-in's issue is reported later, if the value comes to matter.
  if (!standIn) for (const name of result.missing) issue(ctx, node, path, unset(name));
  for (const expr of result.malformed) {
    issue(ctx, node, path, `cannot read \`${expr}\`: write \${NAME} or \${NAME:-default} (and $\${ for a literal \${)`);
  }
  for (const expr of result.nested) {
    issue(ctx, node, path, `nested \`\${...}\` is not supported in \`${expr}\`: a default is plain text`);
  }
  const bare = BARE_VARIABLE.exec(written);
  if (bare && ctx.env[bare[1]!] !== undefined) {
    // Docker Compose and shells read `$NAME` too; here it is text, so an `api_key` or `admin_key` written so
    // would be the variable's name, known to anyone who reads the file. Named: it is a variable's name.
    issue(ctx, node, path, `\`$${bare[1]}\` is read as text, not as the variable: write \`\${${bare[1]}}\``);
  }
  if (!result.substituted) return result.value;
  if (result.value === '') return ABSENT;
  // The whole scalar, and each variable's value in it (`model: ${VENDOR}/x` names only its provider part).
  ctx.envValues.push(result.value, ...result.fromEnv);
  const unsendable = unsendableVariables(written, ctx.env);
  if (unsendable !== undefined) ctx.unsendable.push({ path, file: ctx.file, line: lineOf(ctx, node), why: unsendable });
  // Whether an unquoted `${PORT}` means the number 8080 or the text "8080" depends on the field,
  // so the caller records it and the schema decides later (see coerceSubstitutions).
  ctx.lastWasPlainSubstitution = node.type === 'PLAIN';
  return result.value;
}

function walkMap(ctx: WalkContext, node: YAMLMap, path: Path): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const merges: Pair[] = [];
  for (const pair of node.items) {
    const keyNode = pair.key;
    if (!isScalar(keyNode) || (typeof keyNode.value !== 'string' && typeof keyNode.value !== 'number')) {
      issue(ctx, isNode(keyNode) ? keyNode : node, path, 'mapping keys must be plain names');
      continue;
    }
    const key = ctx.restore(keyText(keyNode));
    if (key === '__proto__') {
      // No config key or name may be it: the schema would drop the entry silently (a project gone).
      issue(ctx, keyNode, [...path, key], '`__proto__` is reserved; choose another name');
      continue;
    }
    if (key === '<<' && keyNode.type === 'PLAIN') {
      merges.push(pair);
      continue;
    }
    // `x-...` sections hold YAML anchors to merge elsewhere (`<<: *defaults`), as in Docker Compose:
    // read only where an alias uses them.
    if (path.length === 0 && key.startsWith(EXTENSION_PREFIX)) continue;
    const value = walk(ctx, pair.value, [...path, key]);
    if (value === ABSENT) {
      const written = isScalar(pair.value) && typeof pair.value.value === 'string' ? ctx.restore(pair.value.value) : '';
      ctx.emptied.push({ path: [...path, key], file: ctx.file, line: lineOf(ctx, keyNode), why: whyEmpty(written, ctx.env) });
      continue;
    }
    if (ctx.lastWasPlainSubstitution) ctx.substitutions.push({ container: out, key, path: [...path, key] });
    setOwn(out, key, value);
    ctx.locs.set(out, key, { file: ctx.file, line: lineOf(ctx, keyNode) });
  }
  // YAML merge keys (`<<: *defaults`): written keys win, then earlier merge sources win.
  for (const pair of merges) {
    const sourceNodes = isSeq(pair.value) ? pair.value.items : [pair.value];
    for (const sourceNode of sourceNodes) {
      const merged = walk(ctx, sourceNode, path);
      if (merged === null || typeof merged !== 'object' || Array.isArray(merged)) {
        issue(ctx, isNode(pair.key) ? pair.key : node, path, '`<<` must merge a mapping or a list of mappings');
        continue;
      }
      for (const [key, value] of Object.entries(merged)) {
        if (Object.prototype.hasOwnProperty.call(out, key)) continue;
        setOwn(out, key, value);
        const loc = ctx.locs.get(merged, key);
        if (loc) ctx.locs.set(out, key, loc);
        if (ctx.substitutions.some((sub) => sub.container === merged && sub.key === key)) {
          ctx.substitutions.push({ container: out, key, path: [...path, key] });
        }
      }
    }
  }
  return out;
}

/**
 * A mapping key as written: YAML reads an unquoted `007`, `1.10` or `4.0` as a number, whose String()
 * (`7`, `1.1`, `4`) would rename the project or route it names.
 */
function keyText(key: Scalar): string {
  return typeof key.value === 'number' && key.source !== undefined ? key.source : String(key.value);
}

interface DuplicateKey {
  path: Path;
  line: number;
  firstLine: number;
  /** For a repeated `<<`: what each `<<` of the mapping merges (`*a`), to write as one list. */
  merges: string[];
}

// YAML allows one `<<` per mapping: a second one is no mistake of intent, but a list is how to merge several.
function duplicateMessage(key: string, firstLine: number, merges: string[]): string {
  if (key === '<<' && merges.length > 0) return `a mapping takes one \`<<\` (the first at line ${firstLine}): merge several with a list, \`<<: [${merges.join(', ')}]\``;
  return `duplicate key \`${key}\` (first written at line ${firstLine}): keep one`;
}

// What one `<<` merges, as written: `*a`, or each alias of `[*a, *b]`.
function mergedAliases(value: unknown): string[] {
  const items = isSeq(value) ? value.items : [value];
  return items.every(isAlias) ? items.map((a) => `*${a.source}`) : [];
}

/** Each key written twice in one mapping: its path, and the lines of its first and repeated writing. */
function duplicateKeys(text: string, lines: LineCounter): DuplicateKey[] {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: false });
  const out: DuplicateKey[] = [];
  const lineOf = (node: unknown): number => (isNode(node) && node.range ? lines.linePos(node.range[0]).line : 1);
  const walk = (node: unknown, path: Path): void => {
    if (isMap(node)) {
      const seen = new Map<string, number>();
      const mergeKeys = node.items.filter((pair) => isScalar(pair.key) && pair.key.value === '<<');
      const merges = mergeKeys.map((pair) => mergedAliases(pair.value));
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? keyText(pair.key) : String(pair.key);
        const first = seen.get(key);
        if (first !== undefined) out.push({ path: [...path, key], line: lineOf(pair.key), firstLine: first, merges: key === '<<' && merges.every((m) => m.length > 0) ? merges.flat() : [] });
        else seen.set(key, lineOf(pair.key));
        walk(pair.value, [...path, key]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item, [...path, i]));
    }
  };
  walk(doc.contents, []);
  return out;
}
