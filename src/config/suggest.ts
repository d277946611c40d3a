// "Did you mean" hints for unknown keys and unknown references.
import { closest, distance } from 'fastest-levenshtein';

const MAX_LISTED = 12;

/** A hint for a misspelled `word`: `did you mean \`x\`?` when one candidate is close, else the valid choices. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  if (candidates.length === 0) return 'none are defined';
  const lower = candidates.map((c) => c.toLowerCase());
  const best = closest(word.toLowerCase(), lower);
  const bestIndex = lower.indexOf(best);
  // Close means a couple of typos, or a third of the word for longer names.
  if (distance(word.toLowerCase(), best) <= Math.max(2, Math.floor(word.length / 3))) {
    return `did you mean \`${candidates[bestIndex]}\`?`;
  }
  const listed = candidates.slice(0, MAX_LISTED).map((c) => `\`${c}\``).join(', ');
  return `expected one of ${listed}${candidates.length > MAX_LISTED ? ', ...' : ''}`;
}
