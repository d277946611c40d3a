// Keeps docs/configuration.md and the schema in step: every field the schema accepts is
// documented in a `field` table, and every documented field exists.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { fieldPaths } from './schema-walk.js';
import { configSchema } from './schema.js';

const docPath = fileURLToPath(new URL('../../docs/configuration.md', import.meta.url));

/** Backticked paths in the first column of tables whose header starts with `field`. */
function documentedPaths(markdown: string): string[] {
  const paths: string[] = [];
  let inFieldTable = false;
  for (const line of markdown.split('\n')) {
    if (!line.startsWith('|')) {
      inFieldTable = false;
      continue;
    }
    const firstCell = line.split(/(?<!\\)\|/)[1]?.trim() ?? '';
    if (firstCell === 'field') inFieldTable = true;
    else if (inFieldTable && !/^-+$/.test(firstCell)) {
      for (const match of firstCell.matchAll(/`([^`]+)`/g)) paths.push(match[1]!);
    }
  }
  return paths;
}

describe('docs/configuration.md', () => {
  const schemaPaths = fieldPaths(configSchema);
  const docPaths = documentedPaths(readFileSync(docPath, 'utf8'));

  it('derives a full list of paths from the schema', () => {
    expect(schemaPaths).toEqual(expect.arrayContaining([
      'server.port',
      'projects.<name>.daily_limit',
      'projects.<name>.daily_limit.max_cost_usd',
      'routes.<name>.token_limiting.input.window_size',
      'keys[].key_sha256',
      'alerts[].fallback',
    ]));
  });

  it('documents every schema field', () => {
    expect(schemaPaths.filter((p) => !docPaths.includes(p))).toEqual([]);
  });

  it('documents no field the schema lacks, and each field once', () => {
    expect(docPaths.filter((p) => !schemaPaths.includes(p))).toEqual([]);
    expect(docPaths.filter((p, i) => docPaths.indexOf(p) !== i)).toEqual([]);
  });
});
