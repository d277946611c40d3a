// Report commands (`tollgate usage`, `tollgate audit`) read a few fields of a config whose other fields
// hold secrets their operator need not have: provider API keys, client keys. For them an unset `${VAR}`
// becomes a marker instead of an error. The load still fails, with the very issue serving would report,
// where a marker reaches a field the command reads, or fails validation (a URL, a number, a reference).
import { randomBytes } from 'node:crypto';
import type { ConfigIssue } from './config-error.js';

/** The markers put in for unset variables, each remembering the issue it defers. */
export class UnsetStandIns {
  // Random, so that no config text can spell a marker.
  private readonly nonce = randomBytes(8).toString('hex');
  private readonly deferred: ConfigIssue[] = [];

  /** The text standing in for an unset variable, whose issue is reported only if it comes to matter. */
  standIn(issue: ConfigIssue): string {
    return `__tollgate_unset_${this.nonce}_${this.deferred.push(issue) - 1}__`;
  }

  /** The deferred issues of the markers `value` holds (none unless it is a string). */
  issuesIn(value: unknown): ConfigIssue[] {
    if (typeof value !== 'string') return [];
    const marker = new RegExp(`__tollgate_unset_${this.nonce}_(\\d+)__`, 'g');
    return [...value.matchAll(marker)].map((m) => this.deferred[Number(m[1])]!);
  }

  /** Splits problems found at paths of `root` into the unset variables behind them and the rest. */
  explain<T extends { path: readonly PropertyKey[] }>(problems: readonly T[], root: unknown): { unset: ConfigIssue[]; rest: T[] } {
    const unset: ConfigIssue[] = [];
    const rest: T[] = [];
    for (const problem of problems) {
      const behind = this.issuesIn(valueAt(root, problem.path));
      if (behind.length > 0) unset.push(...behind);
      else rest.push(problem);
    }
    return { unset: [...new Set(unset)], rest };
  }
}

/** The value at `path` (`['storage', 'ledger']`) of plain config data, or undefined. */
export function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== 'object' || !Object.prototype.hasOwnProperty.call(value, key)) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}
