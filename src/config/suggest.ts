// "Did you mean" hints for unknown keys and unknown references.
import { closest, distance } from 'fastest-levenshtein';

const MAX_LISTED = 12;

/**
 * Edit distance with two neighbouring letters swapped counted as one typo (`taem` for `team`), which plain
 * Levenshtein counts as two: a short name's commonest typo would otherwise go unnoticed.
 */
export function typoDistance(a: string, b: string): number {
  const d = distance(a, b);
  if (d !== 2 || a.length !== b.length) return d;
  const diff: number[] = [];
  for (let i = 0; i < a.length && diff.length <= 2; i++) if (a[i] !== b[i]) diff.push(i);
  return diff.length === 2 && diff[1] === diff[0] + 1 && a[diff[0]] === b[diff[1]] && a[diff[1]] === b[diff[0]] ? 1 : d;
}

/** A hint for a misspelled `word`: `did you mean \`x\`?` when one candidate is close, else the valid choices. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  if (candidates.length === 0) return 'none are defined';
  const lower = candidates.map((c) => c.toLowerCase());
  const best = closest(word.toLowerCase(), lower);
  const bestIndex = lower.indexOf(best);
  // Close means a couple of typos, or a third of the word for longer names.
  if (typoDistance(word.toLowerCase(), best) <= Math.max(2, Math.floor(word.length / 3))) {
    return `did you mean \`${candidates[bestIndex]}\`?`;
  }
  const listed = candidates.slice(0, MAX_LISTED).map((c) => `\`${c}\``).join(', ');
  return `expected one of ${listed}${candidates.length > MAX_LISTED ? ', ...' : ''}`;
}
