// A limit's counter is named by its owner, its name and its algorithm, not by its unit: a limit switched
// between tokens and dollars by a reload (or a user moved to a tier whose limit of the same name counts the
// other) keeps its counter, whose figure in the old unit is read in the new one until its window ends. The
// rebuild raises a counter that reads low to the ledger's figure; one that reads high refuses calls early
// (50,000 tokens of a cheap model read as $0.05 where the ledger says $0.0075). The unit stays out of the
// key: gateways of two releases in a rolling upgrade would count one limit under two keys. The reload says
// which limits are affected instead, and how to start their counters afresh.
import type { LimitSpec, Policy } from '../config/policy.js';
import { principalOf } from '../auth/key-store.js';

/** The most limits named in the warning (a tier change can touch thousands of users). */
const MAX_NAMED = 10;

function unitOf(spec: LimitSpec): string {
  if (spec.maxCostUsd !== undefined) return 'USD';
  return spec.measure === 'requests' ? 'requests' : 'tokens';
}

/** The specs of `after` that share their counter with a spec of `before` counted in another unit. */
function changedSpecs(before: LimitSpec[] | undefined, after: LimitSpec[] | undefined): Array<{ spec: LimitSpec; from: string }> {
  const out: Array<{ spec: LimitSpec; from: string }> = [];
  for (const spec of after ?? []) {
    const old = before?.find((s) => s.name === spec.name && s.algorithm === spec.algorithm);
    if (old && unitOf(old) !== unitOf(spec)) out.push({ spec, from: unitOf(old) });
  }
  return out;
}

/**
 * The limits whose counters keep counting across the change from `before` to `after` but in another unit,
 * described for a log line (at most MAX_NAMED, then how many more).
 */
export function unitChanges(before: Policy, after: Policy): string[] {
  const found: string[] = [];
  const note = (owner: string, changes: Array<{ spec: LimitSpec; from: string }>): void => {
    for (const { spec, from } of changes) found.push(`${owner} ${spec.name} limit (${from} -> ${unitOf(spec)})`);
  };
  const sections = [
    ['organization', before.organizations, after.organizations],
    ['project', before.projects, after.projects],
    ['group', before.groups, after.groups],
    ['tier', before.tiers, after.tiers],
    ['route', before.routes, after.routes],
  ] as const;
  for (const [kind, old, now] of sections) {
    for (const [name, owner] of now) note(`${kind} '${name}'`, changedSpecs(old.get(name)?.limits, owner.limits));
  }
  // A user's tier limits are counted per user: a key moved to another tier carries the user's counter over.
  const oldTiers = new Map(before.keys.map((k) => [k.id, k.tier]));
  const users = new Set<string>();
  for (const key of after.keys) {
    const from = oldTiers.get(key.id);
    if (from === undefined || key.tier === undefined || from === key.tier) continue;
    const user = principalOf(key).user;
    if (users.has(user)) continue;
    users.add(user);
    note(`user '${user}' (tier ${from} -> ${key.tier})`, changedSpecs(before.tiers.get(from)?.limits, after.tiers.get(key.tier)?.limits));
  }
  if (found.length <= MAX_NAMED) return found;
  return [...found.slice(0, MAX_NAMED), `and ${found.length - MAX_NAMED} more`];
}
