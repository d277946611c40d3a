// Mistakes an adopter writing a first config makes, and the hint each error gives to fix it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { issuesOf, load, ROUTE } from '../../test/helpers/config-texts.js';
import { ConfigError, loadPolicy } from './index.js';

const windowIssue = (size: string) => {
  const issues = issuesOf(`${ROUTE}    token_limiting:\n      input: {algorithm: fixed_window, window_size: ${size}, max_token: 5}\n`);
  expect(issues).toHaveLength(1);
  expect(issues[0]).toMatchObject({ line: 8, path: 'routes.main.token_limiting.input.window_size' });
  return issues[0]!.message;
};

describe('window_size typos', () => {
  it.each([
    ['1 minuet', '1 minute'],
    ['10 minuets', '10 minutes'],
    ['10 mins', '10 minutes'],
    ['1 hr', '1 hour'],
    ['2 hrs', '2 hours'],
    ['60 sec', '60 seconds'],
    ['1hour', '1 hour'],
    ['1 huor', '1 hour'],
    ['1 dya', '1 day'],
    ['2 wks', '2 weeks'],
    ['1 d', '1 day'],
  ])('suggests the window meant by %j', (written, meant) => {
    const message = windowIssue(written);
    expect(message).toContain(`\`${written}\` is not a window size`);
    expect(message).toContain(`did you mean \`${meant}\`?`);
  });

  it('says why a window of a known unit is refused', () => {
    expect(windowIssue('0 hours')).toContain('at least 1');
    expect(windowIssue('400 days')).toContain('at most 366 days');
    expect(windowIssue('2 months')).toContain('only `1 month`');
    expect(windowIssue('2 years')).toContain('at most 366 days');
    expect(windowIssue('1 year')).toContain('did you mean `365 days`?');
  });

  it('suggests nothing when nothing is close, and still lists the accepted forms', () => {
    const message = windowIssue('hourly');
    expect(message).not.toContain('did you mean');
    expect(message).toContain('`1 hour`');
  });

  it('says that a bare number has no unit, and names a missing window_size as a window size', () => {
    const issues = issuesOf(`${ROUTE}    token_limiting:\n      input: {algorithm: fixed_window, window_size: 3600, max_token: 5}\n      output: {algorithm: fixed_window, max_token: 5}\n`);
    expect(issues).toEqual([
      expect.objectContaining({ line: 8, path: 'routes.main.token_limiting.input.window_size', message: expect.stringMatching(/a number has no unit.*`3600 seconds`/) }),
      expect.objectContaining({ line: 9, path: 'routes.main.token_limiting.output.window_size', message: expect.stringContaining('required field is missing (expected a window size such as `1 hour`') }),
    ]);
  });
});

describe('time zone typos', () => {
  it.each([
    ['Europe/Pairs', 'Europe/Paris'],
    ['"America/New York"', 'America/New_York'],
    ['Asia/Tokio', 'Asia/Tokyo'],
    ['Paris', 'Europe/Paris'],
    ['new york', 'America/New_York'],
  ])('suggests the zone meant by %s', (written, meant) => {
    const [issue] = issuesOf(`server:\n  timezone: ${written}\n`);
    expect(issue).toMatchObject({ line: 2, path: 'server.timezone' });
    expect(issue!.message).toContain(`did you mean \`${meant}\`?`);
  });

  it('suggests no zone for a far-off name (UTC+1 is not UTC)', () => {
    const [issue] = issuesOf('server:\n  timezone: UTC+1\n');
    expect(issue!.message).not.toContain('did you mean');
    expect(issue!.message).toContain('`Europe/Paris`');
  });
});

describe('values YAML reads otherwise than meant', () => {
  it('says that yes/no/on/off are text, not booleans', () => {
    expect(issuesOf('metrics:\n  enabled: yes\n  user_labels: off\n')).toEqual([
      expect.objectContaining({ line: 2, path: 'metrics.enabled', message: 'expected `true` or `false`, got `yes`, which YAML reads as text: write `true`' }),
      expect.objectContaining({ line: 3, path: 'metrics.user_labels', message: 'expected `true` or `false`, got `off`, which YAML reads as text: write `false`' }),
    ]);
  });

  it('says that a quoted `true` is text', () => {
    expect(issuesOf('ledger:\n  enabled: "false"\n')).toEqual([
      expect.objectContaining({ line: 2, path: 'ledger.enabled', message: 'expected `true` or `false`, got `"false"`, which is text in quotes: write `false` without quotes' }),
    ]);
  });

  it('says how to write a number that was written with a suffix or separators', () => {
    const issues = issuesOf('organization:\n  monthly_budget: 25M\n  daily_cap: 500,000\nprojects:\n  p: {daily_limit: 1_000}\n');
    expect(issues.map((i) => i.path)).toEqual(['organization.monthly_budget', 'organization.daily_cap', 'projects.p.daily_limit']);
    for (const issue of issues) expect(issue.message).toContain('write the whole number without suffixes or separators');
    // The text itself is not repeated: it may have come from the environment.
    expect(issues[0]!.message).not.toContain('25M');
  });

  it('names infinity as infinity and says how to set no limit', () => {
    expect(issuesOf('projects:\n  p: {daily_limit: .inf}\n')).toEqual([
      expect.objectContaining({ line: 2, path: 'projects.p.daily_limit', message: expect.stringContaining('got infinity (for no limit, leave the field out)') }),
    ]);
  });
});

describe('anchors', () => {
  it('reads top-level `x-` sections only where an alias merges them, so anchors have a place to live', () => {
    const policy = load('x-limits: &standard\n  daily_limit: 5000\n  request_limit: 400\nprojects:\n  a:\n    <<: *standard\n  b:\n    <<: *standard\n    daily_limit: 9000\n');
    expect([...policy.projects.values()].map((p) => [p.id, p.limits[0]!.max, p.requestLimit])).toEqual([['a', 5000, 400], ['b', 9000, 400]]);
  });

  it('still checks what an `x-` section gives, at the line it is written', () => {
    expect(issuesOf('x-limits: &standard\n  dialy_limit: 5000\nprojects:\n  a:\n    <<: *standard\n')).toContainEqual(
      expect.objectContaining({ line: 2, path: 'projects.a.dialy_limit', message: 'unknown key `dialy_limit` (did you mean `daily_limit`?)' }),
    );
  });
});

describe('a variable set to the empty string', () => {
  it('says which written field became empty, instead of only that a required one is missing', () => {
    const text = 'projects:\n  p:\n    daily_limit: ${DAILY}\nkeys:\n  - id: alice\n    key: ${ALICE_KEY}\n';
    const issues = issuesOf(text, { DAILY: '', ALICE_KEY: '' });
    expect(issues).toEqual([
      {
        file: 'tollgate.yaml', line: 3, path: 'projects.p.daily_limit',
        message: 'required field is missing (expected a number or a mapping): `daily_limit` at line 3 is empty (DAILY is set to the empty string), and an empty value counts as not written',
      },
      {
        file: 'tollgate.yaml', line: 5, path: 'keys[0]',
        message: 'set exactly one of `key` (the secret) and `key_sha256` (its SHA-256): `key` at line 6 is empty (ALICE_KEY is set to the empty string), and an empty value counts as not written',
      },
    ]);
  });

  it('names only the emptied fields the error is about', () => {
    const [issue] = issuesOf('projects:\n  p: {daily_limit: 5}\nkeys:\n  - id: alice\n    key: ${ALICE_KEY}\n    project: ${PROJ:-}\n', { ALICE_KEY: '' });
    expect(issue!.message).toContain('`key` at line 5 is empty (ALICE_KEY is set to the empty string)');
    expect(issue!.message).not.toContain('PROJ');
  });

  it('leaves alone a field a later file sets again, and finds a later file\'s keys at their merged index', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-empty-'));
    const base = join(dir, 'base.yaml');
    const overlay = join(dir, 'overlay.yaml');
    writeFileSync(base, 'projects:\n  p: {daily_limit: 5}\nkeys:\n  - {id: a, key: tg-a}\n  - {id: b, key: tg-b}\n');
    writeFileSync(overlay, 'keys:\n  - id: c\n    key: ${C_KEY}\n');
    try {
      loadPolicy([base, overlay], { C_KEY: '' });
      expect.fail('should throw');
    } catch (err) {
      expect((err as ConfigError).message).toBe(
        `${overlay}:2: keys[2]: set exactly one of \`key\` (the secret) and \`key_sha256\` (its SHA-256): \`key\` at line 3 is empty (C_KEY is set to the empty string), and an empty value counts as not written`,
      );
    }
    writeFileSync(overlay, 'projects:\n  p: {daily_limit: 7}\n');
    writeFileSync(base, 'projects:\n  p: {daily_limit: "${D}"}\n');
    expect(loadPolicy([base, overlay], { D: '' }).projects.get('p')!.limits[0]!.max).toBe(7);
  });

  it('says so for an unset variable with an empty default too', () => {
    const [issue] = issuesOf('projects:\n  p:\n    daily_limit: ${DAILY:-}\n');
    expect(issue!.message).toContain('(DAILY is not set)');
  });
});

describe('references', () => {
  it('says that a providers section replaces the built-in providers a route still names', () => {
    const issues = issuesOf(`providers:\n  demo: {type: mock}\n${ROUTE}`);
    expect(issues).toEqual([
      expect.objectContaining({
        path: 'routes.main.chat_models[0].model',
        message: expect.stringContaining('a `providers` section replaces the built-in `openai` and `anthropic`: declare `openai` there too'),
      }),
    ]);
  });

  it('names the file and line of the first key when an id or a secret is repeated in another file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-dup-'));
    const base = join(dir, 'base.yaml');
    const overlay = join(dir, 'overlay.yaml');
    writeFileSync(base, 'keys:\n  - id: alice\n    key: tg-alice\n');
    writeFileSync(overlay, '# prod\nkeys:\n  - id: alice\n    key: tg-other\n  - id: bob\n    key: tg-alice\n');
    try {
      loadPolicy([base, overlay], {});
      expect.fail('should throw');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).message.split('\n')).toEqual([
        `${overlay}:3: keys[1].id: duplicate key id \`alice\` (also keys[0], at ${base}:2)`,
        `${overlay}:6: keys[2].key: the same secret is already used by key \`alice\` (keys[0], at ${base}:2)`,
      ]);
    }
  });
});

describe('one user, several keys', () => {
  const keys = (second: string) => `users:\n  premium: {daily_limit: 50000}\n  standard: {daily_limit: 10000}\nkeys:\n  - {id: alice-laptop, key: tg-1, user: alice, tier: premium}\n  - {id: alice-ci, key: tg-2, user: alice${second}}\n`;

  it('warns when a key of a user with a tier names no tier: calls with it escape the tier limits', () => {
    expect(load(keys('')).warnings).toEqual([
      expect.objectContaining({ line: 6, path: 'keys[1]', message: expect.stringContaining('user `alice` has tier `premium` through key `alice-laptop`, but this key names no tier') }),
    ]);
  });

  it('warns when two keys of a user name different tiers, which share one counter', () => {
    expect(load(keys(', tier: standard')).warnings).toEqual([
      expect.objectContaining({ line: 6, path: 'keys[1].tier', message: expect.stringContaining('user `alice` has tier `premium` through key `alice-laptop`') }),
    ]);
  });

  it('says nothing when every key of a user names the same tier', () => {
    expect(load(keys(', tier: premium')).warnings).toEqual([]);
  });
});

describe('a key that can call nothing', () => {
  it('warns about `routes: []`, which allows no route, unlike `routes` left out', () => {
    const policy = load(`${ROUTE}keys:\n  - {id: a, key: tg-a, routes: []}\n  - {id: b, key: tg-b}\n`);
    expect(policy.warnings).toEqual([
      expect.objectContaining({ line: 8, path: 'keys[0].routes', message: expect.stringContaining('leave `routes` out to allow every route') }),
    ]);
  });
});

describe('a price for a misspelt model', () => {
  const config = (priced: string) => `providers:\n  demo: {type: mock}\npricing:\n  "${priced}": {input: 1, output: 2}\nroutes:\n  r:\n    chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]\n`;

  it('warns when a priced model is no route model but one typo away from an unpriced one', () => {
    expect(load(config('demo/gpt4o')).warnings).toEqual([
      expect.objectContaining({ line: 4, path: 'pricing["demo/gpt4o"]', message: expect.stringContaining('did you mean `demo/gpt-4o`, which has no price?') }),
    ]);
  });

  it('says nothing of a price for a model far from every route model, or of a right one', () => {
    expect(load(config('demo/claude-3-haiku')).warnings).toEqual([]);
    expect(load(config('demo/gpt-4o')).warnings).toEqual([]);
  });
});

describe('an audio model priced as text', () => {
  const config = (priced: string, price: string) => `providers:\n  demo: {type: mock}\npricing:\n  "${priced}": ${price}\nroutes:\n  r:\n    chat_models: [{model_id: m, model: ${priced}}]\n`;

  it('warns when an audio-named model has no audio rates here nor in the built-in table', () => {
    expect(load(config('demo/gpt-audio-mini', '{input: 0.6, output: 2.4}')).warnings).toEqual([
      expect.objectContaining({ line: 4, path: 'pricing["demo/gpt-audio-mini"]', message: expect.stringContaining('set `audio_input` and `audio_output`') }),
    ]);
    expect(load(config('demo/voice-audio-prod', '{input: 2.5, output: 10}')).warnings).toHaveLength(1);
  });

  it('says nothing when the audio rates are set, or listed for the model, or of other models', () => {
    expect(load(config('demo/gpt-audio-mini', '{input: 0.6, output: 2.4, audio_input: 10, audio_output: 20}')).warnings).toEqual([]);
    expect(load(config('demo/gpt-audio-2025-08-28', '{input: 2.5, output: 10}')).warnings).toEqual([]);
    expect(load(config('demo/gpt-4o', '{input: 2.5, output: 10}')).warnings).toEqual([]);
  });
});

describe('YAML mistakes, in words about the file', () => {
  const only = (text: string) => {
    const issues = issuesOf(text);
    expect(issues).toHaveLength(1);
    return issues[0]!;
  };

  it('says that a `:` needs a space after it, at its line', () => {
    expect(only('server:\n  port:4000\n  host: 127.0.0.1\n')).toMatchObject({ line: 2, message: expect.stringContaining('with a space after the colon') });
    // A section's only line is valid YAML, read as text where a mapping belongs: the same advice.
    expect(only('server:\n  port:4000\n')).toMatchObject({ line: 1, message: expect.stringContaining('write `port: 4000`, with a space after the colon') });
  });

  it('says that a list item line is indented less than the keys above it', () => {
    expect(only('keys:\n  - id: a\n   key: tg-a\n')).toMatchObject({ line: 3, message: expect.stringContaining('indented less than the keys above it') });
  });

  it('says to line a key up with its siblings', () => {
    expect(only('projects:\n  p:\n    daily_limit: 5\n   request_limit: 4\n')).toMatchObject({ line: 4, message: expect.stringContaining('line this key up') });
  });

  it('says to quote a value that contains `: ` or starts with a reserved character, without repeating it', () => {
    const nested = only('keys:\n  - id: a\n    key: tg-secret: oops\n');
    expect(nested.message).toContain('must be quoted');
    expect(nested.message).not.toContain('tg-secret');
    const reserved = only('keys:\n  - id: a\n    key: @secret\n');
    expect(reserved.message).toContain('put the value in quotes');
    expect(reserved.message).not.toContain('secret');
  });

  it('never repeats an unknown alias, which may be an unquoted secret, and suggests a close anchor', () => {
    const secret = only('keys:\n  - id: a\n    key: *hunter2\n');
    expect(secret).toMatchObject({ line: 3, path: 'keys[0].key', message: expect.stringContaining('put the value in quotes if it is text') });
    expect(secret.message).not.toContain('hunter2');
    expect(only('x-std: &standard {daily_limit: 5}\nprojects:\n  p: *standrd\n').message).toContain('did you mean `*standard`?');
  });
});
