import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadPolicy } from './index.js';
import { sha256Hex } from './sha256.js';

let dir: string;
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-merge-'));
});

const BASE = `server:
  host: 0.0.0.0
  port: 4000
projects:
  production:
    daily_limit: 200000
    request_limit: 4000
    priority: high
routes:
  main:
    chat_models:
      - {model_id: gpt-4o, model: openai/gpt-4o}
      - {model_id: gpt-4o-mini, model: openai/gpt-4o-mini}
keys:
  - {id: alice, key: tg-alice, project: production}
`;

const OVERLAY = `server:
  port: 8080
projects:
  production:
    daily_limit: 100000
  staging:
    daily_limit: 1000
routes:
  main:
    chat_models:
      - {model_id: small, model: openai/gpt-4o-mini}
keys:
  - {id: bob, key: tg-bob, project: staging}
`;

describe('merging several files', () => {
  it('merges mappings recursively with the later file winning, replaces lists, concatenates keys', () => {
    const base = file('base.yaml', BASE);
    const overlay = file('overlay.yaml', OVERLAY);
    const policy = loadPolicy([base, overlay], {});
    expect(policy.sources).toEqual([base, overlay]);
    expect(policy.server).toMatchObject({ host: '0.0.0.0', port: 8080 });
    expect(policy.projects.get('production')).toMatchObject({ requestLimit: 4000, priority: 'high', limits: [{ name: 'daily', max: 100000 }] });
    expect([...policy.projects.keys()]).toEqual(['production', 'staging']);
    expect(policy.routes.get('main')!.models.map((m) => m.modelId)).toEqual(['small']);
    expect(policy.keys.map((k) => [k.id, k.sha256])).toEqual([
      ['alice', sha256Hex('tg-alice')],
      ['bob', sha256Hex('tg-bob')],
    ]);
  });

  it('points errors at the file (and line) the offending field came from', () => {
    const base = file('base2.yaml', BASE);
    const overlay = file('bad-overlay.yaml', `# overrides for staging
projects:
  production:
    dialy_limit: 5
keys:
  - {id: alice, key: tg-other}
  - {id: carol, key: tg-carol, tier: premium, user: carol}
`);
    try {
      loadPolicy([base, overlay], {});
      expect.fail('should throw');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues).toEqual([
        { file: overlay, line: 4, path: 'projects.production.dialy_limit', message: 'unknown key `dialy_limit` (did you mean `daily_limit`?)' },
      ]);
    }
    const overlay2 = file('dup-overlay.yaml', `keys:
  - {id: alice, key: tg-other}
  - {id: carol, key: tg-carol, tier: premium, user: carol}
`);
    try {
      loadPolicy([base, overlay2], {});
      expect.fail('should throw');
    } catch (err) {
      expect((err as ConfigError).message.split('\n')).toEqual([
        `${overlay2}:2: keys[1].id: duplicate key id \`alice\` (also keys[0], at ${base}:15)`,
        `${overlay2}:3: keys[2].tier: unknown tier \`premium\` (none are defined); tiers are declared under \`users\``,
      ]);
    }
  });

  it('reports a value that only became invalid through the later file at the later file', () => {
    const base = file('base3.yaml', 'server:\n  port: 4000\n');
    const overlay = file('overlay3.yaml', '\n\nserver:\n  port: 99999\n');
    expect(() => loadPolicy([base, overlay], {})).toThrow(`${overlay}:4: server.port: must be at most 65535`);
  });

  it('collects syntax errors from every file and reports unreadable files', () => {
    const a = file('syntax-a.yaml', 'server:\n  port: [1\n');
    const b = file('syntax-b.yaml', 'a: 1\na: 2\n');
    try {
      loadPolicy([a, b], {});
      expect.fail('should throw');
    } catch (err) {
      const issues = (err as ConfigError).issues;
      expect(issues.some((i) => i.file === a && i.message.startsWith('YAML syntax error'))).toBe(true);
      expect(issues).toContainEqual({ file: b, line: 2, path: 'a', message: 'duplicate key `a` (first written at line 1): keep one' });
    }
    expect(() => loadPolicy([join(dir, 'missing.yaml')], {})).toThrow(`${join(dir, 'missing.yaml')}:1: file not found`);
  });

  // Regression test from an audit: other bytes were read as U+FFFD, so a Latin-1 secret silently
  // became a different one, and a UTF-16 file was "not a mapping of sections".
  it('refuses a file that is not UTF-8, naming the line of the first bad byte', () => {
    const latin1 = join(dir, 'latin1.yaml');
    writeFileSync(latin1, Buffer.concat([Buffer.from('projects:\n  p: {daily_limit: 100}\n# caf'), Buffer.from([0xe9]), Buffer.from('\nkeys:\n  - {id: k1, key: "s'), Buffer.from([0xff, 0xfe]), Buffer.from('ret"}\n')]));
    expect(() => loadPolicy([latin1], {})).toThrow(`${latin1}:3: the file is not UTF-8 (byte 0xe9 at offset 39); save it as UTF-8`);
    // Counted on lone-CR and CRLF line ends too.
    const crEnds = join(dir, 'cr-ends.yaml');
    writeFileSync(crEnds, Buffer.concat([Buffer.from('projects:\r  p: {daily_limit: 100}\r\n# caf'), Buffer.from([0xe9]), Buffer.from('\r')]));
    expect(() => loadPolicy([crEnds], {})).toThrow(`${crEnds}:3: the file is not UTF-8`);
    const utf16 = join(dir, 'utf16.yaml');
    writeFileSync(utf16, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('server: {port: 4000}\n', 'utf16le')]));
    expect(() => loadPolicy([utf16], {})).toThrow(`${utf16}:1: the file is UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8`);
    // Real UTF-8, multi-byte characters included, still loads.
    expect(loadPolicy([file('accents.yaml', '# café, 日本, 🚀\nserver: {port: 4000}\n')], {}).server.port).toBe(4000);
  });

  it('lets a later file drop the built-in providers by declaring its own', () => {
    const base = file('routes.yaml', 'routes:\n  r:\n    chat_models: [{model_id: m, model: demo/m}]\n');
    expect(() => loadPolicy([base], {})).toThrow(/unknown provider `demo`/);
    const providers = file('providers.yaml', 'providers:\n  demo: {type: mock}\n');
    expect([...loadPolicy([base, providers], {}).providers.keys()]).toEqual(['demo']);
  });
});
