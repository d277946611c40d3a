// Every counter key of one organization carries its hash tag, `tg:{org}`, so one script may touch them
// all and a cluster keeps them on one node: the tag of a key, and the checks that keep calls on one tag.
import type { CounterItem } from '../counter-store.js';
import { StoreUsageError } from '../store-errors.js';

/** What reservations in flight hold of each counter, every gateway's (lua-held-index.ts). */
export const heldIndexKey = (tag: string): string => `${tag}:held`;

/** The key whose presence says Redis still holds an organization's counters (hash tag `tg:{org}`). */
export const presenceKey = (tag: string): string => `${tag}:present`;

/**
 * The count of the organization's admitted reservations (RESERVE_LUA), which shows a rollback. Not the
 * presence key's value, as it was: releases before that count (2026-12-03) set that key to 1 at their
 * start, so one of them started during a rolling upgrade sent every newer gateway into a rebuild.
 */
export const admittedKey = (tag: string): string => `${tag}:admitted`;

/**
 * The replication id (`master_replid`) of the node that last admitted one of the organization's
 * reservations: a node promoted from its replica since names it as its `master_replid2` (RESERVE_LUA).
 */
export const lastPrimaryKey = (tag: string): string => `${tag}:primary`;

/**
 * With budget leases: when a loss of an organization's counters was first noticed, in Redis time, kept ten
 * times `storage.lease_ms` (lease-wait.ts).
 */
export const lossKey = (tag: string): string => `${tag}:lost`;

/** `tg:{org}` of a counter key: every key of one organization shares it, so one script may touch them all. */
export function hashTagOf(key: string): string {
  const end = key.indexOf('}');
  if (!key.startsWith('tg:{') || end < 0) throw new StoreUsageError(`counter key without a hash tag: ${key}`);
  return key.slice(0, end + 1);
}

/** The one hash tag of a call's items; refuses items of two organizations. */
export function sameTag(items: readonly CounterItem[]): string {
  const tag = hashTagOf(items[0].key);
  for (const item of items) {
    // Keys in different slots would fail with CROSSSLOT on a cluster: refuse them everywhere, loudly.
    if (!item.key.startsWith(tag)) throw new StoreUsageError(`one reservation spans two organizations: ${tag} and ${hashTagOf(item.key)}`);
  }
  return tag;
}

/** Indexes of `values` grouped by the hash tag of each one's key. */
export function groupByTag<T>(values: readonly T[], keyOf: (v: T) => string): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  values.forEach((v, i) => {
    const tag = hashTagOf(keyOf(v));
    let g = groups.get(tag);
    if (!g) groups.set(tag, (g = []));
    g.push(i);
  });
  return groups;
}

/**
 * Indexes of `values` grouped by hash tag, each group cut into runs of at most `max`: a script over every
 * limit of a large organization (10,000 users: 40,000 keys) ran for over a second, blocking Redis for every
 * instance and outliving storage.timeout_ms. For scripts whose keys are independent of each other only.
 */
export function chunksByTag<T>(values: readonly T[], keyOf: (v: T) => string, max: number): number[][] {
  const chunks: number[][] = [];
  for (const group of groupByTag(values, keyOf).values()) {
    for (let i = 0; i < group.length; i += max) chunks.push(group.slice(i, i + max));
  }
  return chunks;
}
