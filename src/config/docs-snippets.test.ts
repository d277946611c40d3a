// Every YAML example in README.md and docs/configuration.md loads as a config, so a schema change cannot
// leave an adopter copying an example that `tollgate check` refuses. Fragments (a lone limit) are checked
// inside the minimal config that holds them; a snippet of something else (a Kubernetes pod spec) is skipped
// only when it is known here, so a new snippet is never skipped silently.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadPolicyFromTexts } from './load-policy.js';
import { configSchema } from './schema.js';

const DOCS = ['README.md', 'docs/configuration.md'];
const SECTIONS = new Set(Object.keys(configSchema.shape));
/** Top-level keys of snippets that are no Tollgate config at all. */
const NOT_CONFIG = new Set(['spec']);
/** Fragments, and the minimal config around them: a limit's long form is shown on its own. */
const FRAGMENT_PARENTS: Record<string, (text: string) => string> = {
  daily_limit: (text) => `projects:\n  p:\n${text.replace(/^/gm, '    ')}`,
};

interface Snippet {
  where: string;
  text: string;
}

function yamlSnippets(file: string): Snippet[] {
  const lines = readFileSync(fileURLToPath(new URL(`../../${file}`, import.meta.url)), 'utf8').split('\n');
  const snippets: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```ya?ml\s*$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]!); j++) body.push(lines[j]!.slice(indent));
    snippets.push({ where: `${file}:${i + 2}`, text: `${body.join('\n')}\n` });
    i = j;
  }
  return snippets;
}

/** Every `${VAR}` a snippet names, set to a value valid wherever docs put one (a key, a secret). */
function envFor(text: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const m of text.matchAll(/\$\{([A-Z0-9_]+)/g)) env[m[1]!] = 'docs-example-value';
  return env;
}

describe('YAML examples in the docs', () => {
  const snippets = DOCS.flatMap(yamlSnippets);

  it('finds the examples', () => {
    expect(snippets.length).toBeGreaterThanOrEqual(8);
  });

  for (const snippet of snippets) {
    it(`${snippet.where} is a valid config`, () => {
      // Read by eye, not by a YAML parser: `${VAR}` in a flow mapping is the gateway's, not YAML's.
      const keys = [...snippet.text.matchAll(/^([A-Za-z_][\w-]*):/gm)].map((m) => m[1]!);
      if (keys.some((k) => NOT_CONFIG.has(k))) return;
      const wrap = keys.length === 1 ? FRAGMENT_PARENTS[keys[0]!] : undefined;
      const text = wrap ? wrap(snippet.text) : snippet.text;
      if (!wrap) expect(keys.filter((k) => !SECTIONS.has(k) && !k.startsWith('x-'))).toEqual([]);
      expect(() => loadPolicyFromTexts([{ file: snippet.where, text }], envFor(text))).not.toThrow();
    });
  }
});
