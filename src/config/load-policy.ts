// Entry point of the config module: files → interpolated YAML → merged data → one schema →
// cross-checks → Policy. Every stage reports all it finds before giving up, with file:line.
import { readFileSync } from 'node:fs';
import { utf8Problem } from './utf8-check.js';
import { coerceSubstitutions } from './coerce-substitutions.js';
import { explainEmptied, mergedEmptied } from './emptied-values.js';
import { compilePolicy } from './compile.js';
import { ConfigError } from './config-error.js';
import type { ConfigIssue } from './config-error.js';
import { configWarnings } from './config-warnings.js';
import { crossCheck, type Finding } from './cross-check.js';
import { unpricedModels } from './pricing-check.js';
import { formatPath } from './config-error.js';
import { LocIndex } from './loc-index.js';
import { nameUnsendableVariables } from './unsendable-variables.js';
import { mergeConfigs } from './merge.js';
import type { Policy } from './policy.js';
import { configSchema } from './schema.js';
import { UnsetStandIns, valueAt } from './unset-stand-ins.js';
import { withCachedProcessEnv } from './cached-env.js';
import { parseConfigSource } from './yaml-source.js';
import { toConfigIssues } from './zod-issues.js';

/** A config file's name and contents, for callers that already hold the text. */
export interface ConfigText {
  file: string;
  text: string;
}

/** How a config is loaded. */
export interface LoadOptions {
  /**
   * The dotted paths of the only fields the caller reads (`storage.ledger`), for report commands: an unset
   * `${VAR}` anywhere else is no error unless it fails validation. A Policy loaded so is never to serve.
   */
  needs?: readonly string[];
}

/** Loads, merges (in order), validates and compiles config files; throws ConfigError listing every problem. */
export function loadPolicy(files: string[], env: NodeJS.ProcessEnv = process.env, options: LoadOptions = {}): Policy {
  const texts: ConfigText[] = [];
  const unreadable: ConfigIssue[] = [];
  for (const file of files) {
    try {
      const bytes = readFileSync(file);
      const notUtf8 = utf8Problem(bytes);
      if (notUtf8) unreadable.push({ file, line: notUtf8.line, path: '', message: notUtf8.message });
      else texts.push({ file, text: bytes.toString('utf8') });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const reason = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory' : `cannot read file (${code ?? 'unknown error'})`;
      unreadable.push({ file, line: 1, path: '', message: reason });
    }
  }
  if (unreadable.length > 0) throw new ConfigError(unreadable);
  return loadPolicyFromTexts(texts, env, options);
}

/** Like loadPolicy, for contents already in memory (tests, reloads). */
export function loadPolicyFromTexts(texts: ConfigText[], env: NodeJS.ProcessEnv = process.env, options: LoadOptions = {}): Policy {
  // With a large environment, reading process.env dominated the load (cached-env.ts).
  return withCachedProcessEnv(env, (vars) => loadFromTexts(texts, vars, options));
}

function loadFromTexts(texts: ConfigText[], env: NodeJS.ProcessEnv, options: LoadOptions): Policy {
  if (texts.length === 0) throw new ConfigError([{ file: '(none)', line: 1, path: '', message: 'no config file given (use --config FILE)' }]);
  const order = texts.map((t) => t.file);
  const locs = new LocIndex();
  const standIns = options.needs ? new UnsetStandIns() : undefined;
  const sources = texts.map((t) => parseConfigSource(t.file, t.text, env, locs, standIns));
  const early = sources.flatMap((s) => s.issues);
  if (early.length > 0) throw new ConfigError(sortIssues(early, order));
  for (const source of sources) coerceSubstitutions(configSchema, source.substitutions);

  const merged = mergeConfigs(
    sources.map((s) => ({ value: s.value ?? {}, rootLoc: s.rootLoc })),
    locs,
  );
  // Checked on the merged data: a later file may set a field whose earlier value named an unset variable.
  const unsetNeeded = standIns ? (options.needs ?? []).flatMap((field) => standIns.issuesIn(valueAt(merged.value, field.split('.')))) : [];
  if (unsetNeeded.length > 0) throw new ConfigError(sortIssues(unsetNeeded, order));
  // Without stand-ins every problem is a problem of its own.
  const explain = <T extends { path: readonly PropertyKey[] }>(problems: T[]) => standIns?.explain(problems, merged.value) ?? { unset: [], rest: problems };
  const fromEnv = sources.flatMap((s) => s.envValues);
  const emptied = mergedEmptied(sources);
  const unsendable = mergedEmptied(sources.map((s) => ({ value: s.value, emptied: s.unsendable })));
  const parsed = configSchema.safeParse(merged.value);
  if (!parsed.success) {
    const ctx = { schema: configSchema, root: merged.value, rootLoc: merged.rootLoc, locs };
    const { unset, rest } = explain(parsed.error.issues);
    const issues = nameUnsendableVariables(explainEmptied(withoutEnvValues(toConfigIssues(rest, ctx), fromEnv), emptied, merged.value), unsendable);
    throw new ConfigError(sortIssues([...unset, ...issues], order));
  }

  const located = (findings: Finding[]): ConfigIssue[] => {
    const { unset, rest } = explain(findings);
    const issues = rest.map(({ path, message }) => {
      const loc = locs.lookup(merged.value, merged.rootLoc, path);
      return { file: loc.file, line: loc.line, path: formatPath(path), message };
    });
    return sortIssues([...unset, ...explainEmptied(withoutEnvValues(issues, fromEnv), emptied, merged.value)], order);
  };
  const locate = (path: (string | number)[]) => {
    const loc = locs.lookup(merged.value, merged.rootLoc, path);
    return `${loc.file}:${loc.line}`;
  };
  const findings = crossCheck(parsed.data, locate);
  if (findings.length > 0) throw new ConfigError(located(findings));
  const routes = merged.value.routes;
  const routeOrder = routes !== null && typeof routes === 'object' ? locs.keysInOrder(routes).map(String) : [];
  const policy = compilePolicy(parsed.data, order, env, routeOrder);
  const unpriced = unpricedModels(parsed.data, policy);
  if (unpriced.length > 0) throw new ConfigError(located(unpriced));
  policy.warnings = located(configWarnings(parsed.data));
  return policy;
}

// Reading order: by file (in merge order), then by line; ties keep discovery order.
function sortIssues(issues: ConfigIssue[], files: string[]): ConfigIssue[] {
  const rank = (file: string) => {
    const i = files.indexOf(file);
    return i === -1 ? files.length : i;
  };
  return issues
    .map((issue, i) => ({ issue, i }))
    .sort((a, b) => rank(a.issue.file) - rank(b.issue.file) || a.issue.line - b.issue.line || a.i - b.i)
    .map(({ issue }) => issue);
}

/**
 * The issues with every value an environment variable supplied left out of their messages: a secret put
 * in the wrong field (a key where a mode or a time zone belongs) must not reach a terminal or a log.
 * Values under 4 characters (numbers, `true`) are no secrets and stay.
 */
function withoutEnvValues(issues: ConfigIssue[], values: string[]): ConfigIssue[] {
  const hidden = [...new Set(values)].filter((v) => v.length >= 4).sort((a, b) => b.length - a.length);
  if (hidden.length === 0) return issues;
  return issues.map((i) => ({ ...i, message: hidden.reduce((m, v) => m.split(v).join('<a value from the environment>'), i.message) }));
}
