// Managed keys joining the policy (withManagedKeys), their secrets, and the KeyStore's grace period after a rotation.
import { describe, expect, it } from 'vitest';
import { load } from '../../test/helpers/config-texts.js';
import { sha256Hex } from '../config/sha256.js';
import { KeyStore } from './key-store.js';
import { hintOf, keyPolicyOf, keyProblems, newSecret, withManagedKeys, type ManagedKey } from './managed-key.js';

const CONFIG = `
users: {tier_trial: {daily_limit: 400}}
projects: {production: {daily_limit: 10000}}
routes: {main: {chat_models: [{model_id: gpt-4o, model: openai/gpt-4o}]}}
keys: [{id: alice, key: tg-alice, user: alice, tier: tier_trial}]
`;

function managed(over: Partial<ManagedKey> = {}): ManagedKey {
  return {
    id: 'ci-bot', sha256: sha256Hex('tg-ci'), hint: 'tg-ci...', organization: 'default', project: 'production', user: 'ci', tier: 'tier_trial', groups: ['bots'], routes: ['main'],
    createdAt: 1_000, revokedAt: null, previousSha256: null, previousUntil: null, expiresAt: null, updatedAt: 1_000, ...over,
  };
}

describe('withManagedKeys', () => {
  it('adds active keys after the config keys, as the config would hold them', () => {
    const { policy, skipped } = withManagedKeys(load(CONFIG), [managed()]);
    expect(skipped).toEqual([]);
    expect(policy.keys.map((k) => k.id)).toEqual(['alice', 'ci-bot']);
    expect(policy.keys[1]).toEqual({ id: 'ci-bot', sha256: sha256Hex('tg-ci'), organization: 'default', project: 'production', user: 'ci', tier: 'tier_trial', groups: ['bots'], routes: ['main'], managed: true });
  });

  it('leaves out revoked keys, and says why it leaves out keys the configuration no longer fits or now names itself', () => {
    const config = load(CONFIG);
    const { policy, skipped } = withManagedKeys(config, [
      managed({ id: 'gone', sha256: 'a'.repeat(64), revokedAt: 2_000 }),
      managed({ id: 'old-tier', sha256: 'b'.repeat(64), tier: 'tier_gold' }),
      managed({ id: 'alice', sha256: 'c'.repeat(64) }),
      managed({ id: 'ok', sha256: 'd'.repeat(64), routes: null, project: null, tier: null, user: null }),
    ]);
    expect(policy.keys.map((k) => k.id)).toEqual(['alice', 'ok']);
    expect(policy.keys[0].sha256).toBe(sha256Hex('tg-alice'));
    expect(skipped).toEqual([
      { id: 'old-tier', why: 'unknown tier `tier_gold` (expected one of `tier_trial`)' },
      { id: 'alice', why: 'the configuration now has a key of the same id, which takes precedence' },
    ]);
    // The configuration itself is not changed.
    expect(config.keys).toHaveLength(1);
  });
});

describe('keyProblems', () => {
  it('checks the organization, tier, project and routes against the policy, suggesting the nearest name', () => {
    const policy = load(CONFIG);
    expect(keyProblems({ groups: [], tier: 'tier_trail', project: 'prod', routes: ['main', 'mian'] }, policy)).toEqual([
      { param: 'tier', message: 'unknown tier `tier_trail` (did you mean `tier_trial`?)' },
      { param: 'project', message: 'unknown project `prod` (expected one of `production`)' },
      { param: 'routes', message: 'unknown route `mian` (did you mean `main`?)' },
    ]);
    expect(keyProblems({ groups: [], organization: 'acme' }, policy)).toEqual([{ param: 'organization', message: 'unknown organization `acme` (expected one of `default`)' }]);
    expect(keyProblems({ groups: ['anything'], user: 'u', tier: 'tier_trial' }, policy)).toEqual([]);
  });
});

describe('secrets', () => {
  it('makes 256-bit secrets, all different, whose hint shows 11 of their 46 characters', () => {
    const secrets = new Set(Array.from({ length: 1000 }, newSecret));
    expect(secrets.size).toBe(1000);
    for (const s of [...secrets].slice(0, 20)) {
      expect(s).toMatch(/^tg-[A-Za-z0-9_-]{43}$/);
      const hint = hintOf(s);
      expect(hint).toBe(`${s.slice(0, 7)}...${s.slice(-4)}`);
      expect(hint).not.toContain(s.slice(7, -4));
    }
  });
});

describe('KeyStore after a rotation with a grace period', () => {
  it('takes the new secret, and the old one until the grace period ends', () => {
    let now = 10_000;
    const key = keyPolicyOf(managed({ sha256: sha256Hex('tg-new'), previousSha256: sha256Hex('tg-old'), previousUntil: 12_000 }));
    const store = new KeyStore([key], () => now);
    expect(store.resolve('tg-new')?.keyId).toBe('ci-bot');
    expect(store.resolve('tg-old')?.keyId).toBe('ci-bot');
    expect(store.resolve('tg-old')?.user).toBe('ci');
    now = 11_999;
    expect(store.resolve('tg-old')?.keyId).toBe('ci-bot');
    now = 12_000;
    expect(store.resolve('tg-old')).toBeUndefined();
    expect(store.resolve('tg-new')?.keyId).toBe('ci-bot');
    expect(store.resolve('tg-other')).toBeUndefined();
  });
});

describe('KeyStore with an expiring key', () => {
  it('refuses the key from its time on and says when it expired; a rotated secret never outlives it', () => {
    let now = 10_000;
    const key = keyPolicyOf(managed({ sha256: sha256Hex('tg-new'), previousSha256: sha256Hex('tg-old'), previousUntil: 50_000, expiresAt: 20_000 }));
    const others = keyPolicyOf(managed({ id: 'forever', sha256: sha256Hex('tg-forever') }));
    const store = new KeyStore([key, others], () => now);
    expect(store.resolve('tg-new')?.keyId).toBe('ci-bot');
    expect(store.resolve('tg-old')?.keyId).toBe('ci-bot');
    expect(store.expiredAt('tg-new')).toBeUndefined();
    now = 20_000;
    expect(store.resolve('tg-new')).toBeUndefined();
    expect(store.expiredAt('tg-new')).toBe(20_000);
    // The grace period ran to 50,000, past the key's own end: it ends with the key.
    expect(store.resolve('tg-old')).toBeUndefined();
    expect(store.resolve('tg-forever')?.keyId).toBe('forever');
    expect(store.expiredAt('tg-forever')).toBeUndefined();
    expect(store.expiredAt('tg-unknown')).toBeUndefined();
  });
});
