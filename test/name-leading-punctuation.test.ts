// A name made of allowed characters but starting with `.`, `@`, `+` or `-` is refused, as
// docs/configuration.md ("Names") says. The message said only which characters names may use, all of
// which such a name does use, so it left the reader nothing to change.
import { describe, expect, it } from 'vitest';
import { issuesOf, load } from './helpers/config-texts.js';

const lines = (text: string): string[] => issuesOf(text).map((i) => `${i.line} ${i.path}: ${i.message}`);

describe('names that start with a punctuation mark', () => {
  it('say that a name may not start so', () => {
    expect(lines('projects:\n  .staging: {daily_limit: 5}\ngroups:\n  "-ml": {}\n')).toEqual([
      '2 projects[".staging"]: names may not start with `.`, `@`, `+` or `-`',
      '4 groups.-ml: names may not start with `.`, `@`, `+` or `-`',
    ]);
  });

  it('keep the message about characters for a name with a character never allowed', () => {
    expect(lines('projects:\n  "bad:name": {daily_limit: 5}\n  "@bad name": {daily_limit: 5}\n')).toEqual([
      '2 projects["bad:name"]: names may only use letters, digits and `_ . @ + -` (no spaces, `:`, `/`, `{` or `}`)',
      '3 projects["@bad name"]: names may only use letters, digits and `_ . @ + -` (no spaces, `:`, `/`, `{` or `}`)',
    ]);
  });

  it('accept those marks after the first character, and `_` first', () => {
    expect([...load('projects:\n  _a.b@c+d-e: {daily_limit: 5}\n').projects.keys()]).toEqual(['_a.b@c+d-e']);
  });
});
