// Keys made through the admin API (`POST /api/keys`, `tollgate keys create`), as opposed to the config's
// `keys`. They are kept in the ledger's database (key-table.ts), so every gateway instance sharing it sees
// the same keys, and they join the policy's keys as if written in the config (withManagedKeys): limits,
// counter rebuilds, metrics and the dashboard treat both alike.
import { randomBytes } from 'node:crypto';
import type { KeyPolicy, Policy } from '../config/policy.js';
import { didYouMean } from '../config/suggest.js';

/** One managed key as stored. Never holds the secret: its SHA-256 and a hint to recognise it by. */
export interface ManagedKey {
  id: string;
  sha256: string;
  /** The secret's first and last characters (`tg-Ab3x...9fQz`), as OpenAI shows a key's redacted value. */
  hint: string;
  organization: string;
  project: string | null;
  user: string | null;
  tier: string | null;
  groups: string[];
  /** Routes the key may use; null means all. */
  routes: string[] | null;
  /** Epoch ms. */
  createdAt: number;
  revokedAt: number | null;
  /** After a rotation with a grace period: the replaced secret's hash, still accepted until previousUntil. */
  previousSha256: string | null;
  previousUntil: number | null;
  /** Epoch ms after which the key is refused (401 `expired_api_key`); null: it does not expire. */
  expiresAt: number | null;
  /** Epoch ms of the last change; a change is only written over the version it read (no lost update). */
  updatedAt: number;
}

/** Who a new key stands for, as the admin API takes it (the secret is made by the gateway). */
export interface KeyPrincipalFields {
  organization?: string;
  project?: string;
  user?: string;
  tier?: string;
  groups: string[];
  routes?: string[];
}

/** A problem with a key's fields under a policy: the field to blame and what is wrong with it. */
export interface KeyProblem {
  param: string;
  message: string;
}

/**
 * A new secret: `tg-` and 32 random bytes (256 bits) in base64url, past guessing as OpenAI's `sk-proj-...`
 * keys are. Only its hash and hint are stored; the caller sees it once.
 */
export function newSecret(): string {
  return `tg-${randomBytes(32).toString('base64url')}`;
}

/** The part of a secret shown in listings: enough to tell keys apart, far too little to use. */
export function hintOf(secret: string): string {
  return `${secret.slice(0, 7)}...${secret.slice(-4)}`;
}

/** The organization a key without one belongs to: the only one there is, else none (it must say). */
export function onlyOrganization(policy: Policy): string | undefined {
  return policy.organizations.size === 1 ? [...policy.organizations.keys()][0] : undefined;
}

/**
 * What is wrong with a key's references under `policy` (the same checks as the config's keys: the
 * organization, tier, project and routes must exist), or an empty list.
 */
export function keyProblems(k: KeyPrincipalFields, policy: Policy): KeyProblem[] {
  const problems: KeyProblem[] = [];
  const unknown = (param: string, kind: string, name: string, known: Iterable<string>): void => {
    problems.push({ param, message: `unknown ${kind} \`${name}\` (${didYouMean(name, [...known])})` });
  };
  if (k.organization === undefined && policy.organizations.size > 1) {
    problems.push({ param: 'organization', message: `\`organization\` is required when there are several organizations (${[...policy.organizations.keys()].map((o) => `\`${o}\``).join(', ')})` });
  } else if (k.organization !== undefined && !policy.organizations.has(k.organization)) {
    unknown('organization', 'organization', k.organization, policy.organizations.keys());
  }
  if (k.tier !== undefined && !policy.tiers.has(k.tier)) unknown('tier', 'tier', k.tier, policy.tiers.keys());
  if (k.project !== undefined && !policy.projects.has(k.project)) unknown('project', 'project', k.project, policy.projects.keys());
  for (const r of k.routes ?? []) if (!policy.routes.has(r)) unknown('routes', 'route', r, policy.routes.keys());
  return problems;
}

/** The principal fields of a stored key, as keyProblems reads them. */
export function principalFields(m: ManagedKey): KeyPrincipalFields {
  return {
    organization: m.organization,
    groups: m.groups,
    ...(m.project !== null ? { project: m.project } : {}),
    ...(m.user !== null ? { user: m.user } : {}),
    ...(m.tier !== null ? { tier: m.tier } : {}),
    ...(m.routes !== null ? { routes: m.routes } : {}),
  };
}

/** A managed key as the policy's keys hold it. */
export function keyPolicyOf(m: ManagedKey): KeyPolicy {
  return {
    id: m.id,
    sha256: m.sha256,
    organization: m.organization,
    ...(m.project !== null ? { project: m.project } : {}),
    ...(m.user !== null ? { user: m.user } : {}),
    ...(m.tier !== null ? { tier: m.tier } : {}),
    groups: [...m.groups],
    ...(m.routes !== null ? { routes: [...m.routes] } : {}),
    // A rotated key's old secret never outlives the key.
    ...(m.previousSha256 !== null && m.previousUntil !== null ? { previous: { sha256: m.previousSha256, untilMs: Math.min(m.previousUntil, m.expiresAt ?? Infinity) } } : {}),
    ...(m.expiresAt !== null ? { expiresAtMs: m.expiresAt } : {}),
    managed: true,
  };
}

/** A managed key left out of the policy, and why. */
export interface SkippedKey {
  id: string;
  why: string;
}

/**
 * `config` with the managed keys that are not revoked among its keys. A key the configuration no longer
 * fits (its project or tier removed since it was made) or whose id the config now uses itself is left
 * out, refused like an unknown key, and reported in `skipped` so the gateway can say so.
 */
export function withManagedKeys(config: Policy, managed: readonly ManagedKey[]): { policy: Policy; skipped: SkippedKey[] } {
  const skipped: SkippedKey[] = [];
  if (managed.length === 0) return { policy: config, skipped };
  const configIds = new Set(config.keys.map((k) => k.id));
  const keys = [...config.keys];
  for (const m of managed) {
    if (m.revokedAt !== null) continue;
    if (configIds.has(m.id)) {
      skipped.push({ id: m.id, why: 'the configuration now has a key of the same id, which takes precedence' });
      continue;
    }
    const problems = keyProblems(principalFields(m), config);
    if (problems.length > 0) {
      skipped.push({ id: m.id, why: problems.map((p) => p.message).join('; ') });
      continue;
    }
    keys.push(keyPolicyOf(m));
  }
  return { policy: { ...config, keys }, skipped };
}
