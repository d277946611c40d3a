// Layering several config files: a later file refines an earlier one, so mappings merge
// key by key, while lists (other than `keys`) are replaced whole to stay predictable.
import type { Loc, LocIndex } from './loc-index.js';

/** Plain config data and where its root was written. */
export interface LocatedConfig {
  value: Record<string, unknown>;
  rootLoc: Loc;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Merges configs in order: mappings recursively (later wins), top-level `keys` lists concatenated, other lists replaced. */
export function mergeConfigs(configs: LocatedConfig[], locs: LocIndex): LocatedConfig {
  const [first, ...rest] = configs;
  if (!first) throw new Error('mergeConfigs needs at least one config');
  let value = first.value;
  for (const next of rest) value = mergeMappings(value, next.value, true, locs);
  return { value, rootLoc: first.rootLoc };
}

/** A mapping's entries in the order written (LocIndex.keysInOrder), then any not located there. */
function entriesInOrder(value: Record<string, unknown>, locs: LocIndex): Array<[string, unknown]> {
  const written = locs.keysInOrder(value).filter((k): k is string => typeof k === 'string' && Object.prototype.hasOwnProperty.call(value, k));
  const seen = new Set(written);
  const rest = Object.keys(value).filter((k) => !seen.has(k));
  return [...written, ...rest].map((k) => [k, value[k]]);
}

function mergeMappings(a: Record<string, unknown>, b: Record<string, unknown>, atRoot: boolean, locs: LocIndex): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of entriesInOrder(a, locs)) {
    setOwn(out, key, value);
    const loc = locs.get(a, key);
    if (loc) locs.set(out, key, loc);
  }
  for (const [key, later] of entriesInOrder(b, locs)) {
    const earlier = Object.prototype.hasOwnProperty.call(out, key) ? out[key] : undefined;
    let merged: unknown = later;
    if (isMapping(earlier) && isMapping(later)) merged = mergeMappings(earlier, later, false, locs);
    else if (atRoot && key === 'keys' && Array.isArray(earlier) && Array.isArray(later)) merged = concatLists(earlier, later, locs);
    setOwn(out, key, merged);
    // The later file wrote this key too, so errors about the key itself point there.
    const loc = locs.get(b, key);
    if (loc) locs.set(out, key, loc);
  }
  return out;
}

function concatLists(a: unknown[], b: unknown[], locs: LocIndex): unknown[] {
  const out = [...a, ...b];
  a.forEach((_, i) => {
    const loc = locs.get(a, i);
    if (loc) locs.set(out, i, loc);
  });
  b.forEach((_, i) => {
    const loc = locs.get(b, i);
    if (loc) locs.set(out, a.length + i, loc);
  });
  return out;
}
