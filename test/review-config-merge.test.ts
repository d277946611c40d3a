// Adopter QA of merged config files (review): an overlay that switches a limit from tokens to dollars
// gets a mapping merged key by key with the base's, and the error must say where the other half came from.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadPolicyFromTexts, type ConfigIssue } from '../src/config/index.js';

function issuesOf(...texts: Array<[file: string, text: string]>): ConfigIssue[] {
  try {
    loadPolicyFromTexts(texts.map(([file, text]) => ({ file, text })), {});
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('a mapping two files wrote', () => {
  it('names the earlier file\'s field when the error is about fields of both', () => {
    const base = 'projects:\n  production:\n    daily_limit:\n      max_token: 200000\n';
    const overlay = '# dollars from now on\nprojects:\n  production:\n    daily_limit:\n      max_cost_usd: 25\n';
    const issues = issuesOf(['base.yaml', base], ['overlay.yaml', overlay]);
    expect(issues).toEqual([expect.objectContaining({ file: 'overlay.yaml', line: 4, path: 'projects.production.daily_limit' })]);
    expect(issues[0]!.message).toMatch(/set exactly one of/);
    expect(issues[0]!.message).toContain('`max_token` comes from base.yaml:4');
  });

  it('adds nothing when the fields named were all written in the file blamed', () => {
    const [issue] = issuesOf(['base.yaml', 'projects: {p: {daily_limit: 1}}\n'], ['overlay.yaml', 'projects:\n  p:\n    daily_limit: {max_token: 1, max_cost_usd: 2}\n']);
    expect(issue).toMatchObject({ file: 'overlay.yaml', line: 3 });
    expect(issue!.message).not.toContain('comes from');
  });
});

describe('two YAML merge keys in one mapping', () => {
  it('says to merge both with one `<<` and a list, rather than to keep one of them', () => {
    const text = 'x-a: &a {port: 4100}\nx-b: &b {host: localhost}\nserver:\n  <<: *a\n  <<: *b\n';
    const issues = issuesOf(['tollgate.yaml', text]);
    expect(issues).toEqual([expect.objectContaining({ line: 5, path: 'server["<<"]' })]);
    expect(issues[0]!.message).toContain('`<<: [*a, *b]`');
    expect(issues[0]!.message).not.toContain('keep one');
  });
});
