// Counts streamed output as it passes, in bounded memory, to exactly what countTextTokens would say of
// the whole text. Summing per-delta counts is not sound: BPE can merge across a delta boundary into
// *more* tokens than the parts had (greedy merges are not monotone), so a sum can undercount.
// Instead the text is cut only where the model's pre-tokenizer cuts (BPE never merges across those
// pieces): finished pieces are counted one by one and dropped, the last ones held until more text arrives.
import { countTokens, MAX_PIECE, preTokenizer } from './encoders.js';
import { familyEstimate, type Numerals } from './meter.js';
import { profileFor, type Encoding, type Profile } from './model-profile.js';

// Streamed text repeats its words: most pieces are counted once per process, not once per stream.
const PIECE_CACHE_LIMIT = 8192;
const MAX_CACHED_PIECE = 24;
const pieceCounts = new Map<Encoding, Map<string, number>>();
function pieceTokens(encoding: Encoding, piece: string): number {
  if (piece.length > MAX_CACHED_PIECE) return countTokens(encoding, piece);
  let cache = pieceCounts.get(encoding);
  if (!cache) pieceCounts.set(encoding, (cache = new Map()));
  let n = cache.get(piece);
  if (n === undefined) {
    n = countTokens(encoding, piece);
    // Cleared rather than evicted one by one: cheap, and a busy cache refills with the common words at once.
    if (cache.size >= PIECE_CACHE_LIMIT) cache.clear();
    cache.set(piece, n);
  }
  return n;
}

/**
 * Pieces kept back at each commit. The last piece may still grow (a word continues) or change (an
 * apostrophe becomes "'re", trailing spaces give one to the next word); the one before it is also
 * kept so that no pattern looking one piece ahead can be affected.
 */
const HELD_PIECES = 2;
/**
 * Held text is split into pieces once it is this long; later thresholds double, keeping the work linear.
 * Short, because every open stream holds its text until then, as a chain of one string per delta: with
 * 1,000 open streams, 256 held ~2 KB more per stream than 64, for 0.06 µs more per delta (12-04).
 */
const COMMIT_AT = 64;

const NUMERAL = /^\p{N}$/u;

// The characters JavaScript's \s matches (what ExactMeter's /\s+/g counts runs of).
function isSpace(c: number): boolean {
  return (c >= 9 && c <= 13) || c === 32 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/** Output tokens of a stream, counted as it arrives. */
export class StreamTokenCounter {
  private readonly profile: Profile;
  private readonly split: RegExp;
  private committed = 0; // tokens of the text already cut off at piece boundaries
  private tail = ''; // text not yet counted for good
  private tailBytes = 0;
  private commitAt = COMMIT_AT;
  private bytes = 0;
  private runs = 0; // whitespace runs, for the Claude estimate
  private endsInSpace = false;
  // Numerals, for families that may split every digit: their bytes, the cl100k pieces of the runs ended, and
  // the length (in code points) of the run the text ends in, which the next delta may continue.
  private numeralBytes = 0;
  private numeralChunks = 0;
  private numeralRun = 0;
  // A pre-token longer than MAX_PIECE showed up: from there on every byte counts as a token (an upper
  // bound; such text is pathological, and counting it exactly would hold it all).
  private degraded = false;

  constructor(private readonly model: string) {
    this.profile = profileFor(model);
    this.split = preTokenizer(this.profile.encoding);
  }

  /** Adds delivered text. */
  add(text: string): void {
    if (text.length === 0) return;
    const bytes = Buffer.byteLength(text, 'utf8');
    this.bytes += bytes;
    this.runs += this.newRuns(text);
    this.endsInSpace = isSpace(text.charCodeAt(text.length - 1));
    if (this.profile.splitsDigits) {
      const n = this.scanNumerals(text);
      this.numeralBytes += n.bytes;
      this.numeralChunks += n.ended;
      this.numeralRun = n.run;
    }
    if (this.degraded) {
      this.committed += bytes;
      return;
    }
    this.tail += text;
    this.tailBytes += bytes;
    if (this.tail.length >= this.commitAt) this.commit();
  }

  /** Tokens of all text added so far, as countTextTokens would count their concatenation. */
  count(): number {
    return this.estimate(this.committed + this.tailTokens(this.tail), this.bytes, this.runs, this.numeralsWith(''));
  }

  /** The count is the family's conservative estimate (Claude, open models), not the billed count. */
  get estimated(): boolean {
    return this.profile.factor !== 1;
  }

  /** A new, empty counter for the same model. */
  sibling(): StreamTokenCounter {
    return new StreamTokenCounter(this.model);
  }

  /** The tokenizer's own count of the text so far, without the family's conservative factor. */
  rawCount(): number {
    return this.committed + this.tailTokens(this.tail);
  }

  /** What count() would be after add(text), without adding it. */
  countWith(text: string): number {
    if (text.length === 0) return this.count();
    return this.estimate(this.committed + this.tailTokens(this.tail + text), this.bytes + Buffer.byteLength(text, 'utf8'), this.runs + this.newRuns(text), this.numeralsWith(text));
  }

  /** A cheap upper bound of countWith(text): every token is at least one byte. */
  boundWith(text: string): number {
    const bytes = Buffer.byteLength(text, 'utf8');
    return this.estimate(this.committed + this.tailBytes + bytes, this.bytes + bytes, this.runs + this.newRuns(text), this.numeralsWith(text));
  }

  private tailTokens(text: string): number {
    return this.degraded ? Buffer.byteLength(text, 'utf8') : countTokens(this.profile.encoding, text);
  }

  /** The numerals of everything added and then `text` (none unless the family may split digits). */
  private numeralsWith(text: string): Numerals | undefined {
    if (!this.profile.splitsDigits) return undefined;
    const n = text.length > 0 ? this.scanNumerals(text) : { bytes: 0, ended: 0, run: this.numeralRun };
    return { bytes: this.numeralBytes + n.bytes, chunks: this.numeralChunks + n.ended + Math.ceil(n.run / 3) };
  }

  /** `text`'s numeral bytes, the cl100k pieces of the runs it ends (one continued from before included), and the run it ends in. */
  private scanNumerals(text: string): { bytes: number; ended: number; run: number } {
    let bytes = 0;
    let ended = 0;
    let run = this.numeralRun;
    for (const ch of text) {
      if (NUMERAL.test(ch)) {
        run++;
        bytes += Buffer.byteLength(ch, 'utf8');
      } else if (run > 0) {
        ended += Math.ceil(run / 3);
        run = 0;
      }
    }
    return { bytes, ended, run };
  }

  private newRuns(text: string): number {
    if (!this.profile.countSpaceRuns) return 0; // only the Claude estimate uses them
    let n = 0;
    // A run that started in the previous text and continues here is one run, not two.
    let inRun = this.endsInSpace;
    for (let i = 0; i < text.length; i++) {
      const space = isSpace(text.charCodeAt(i));
      if (space && !inRun) n++;
      inRun = space;
    }
    return n;
  }

  private commit(): void {
    const s = this.tail;
    const pieces = [...s.matchAll(this.split)];
    const keep = pieces.length - HELD_PIECES;
    // Piece by piece: a slice counted on its own would be split differently at its end (whitespace
    // patterns look at the next character), while each piece's count does not depend on its neighbours.
    for (let i = 0; i < keep; i++) this.committed += pieceTokens(this.profile.encoding, pieces[i][0]);
    if (keep > 0) {
      this.tail = s.slice(pieces[keep].index);
      this.tailBytes = Buffer.byteLength(this.tail, 'utf8');
    }
    // A held piece this long is counted as its bytes by countTokens, and may keep growing: stop holding.
    let longest = 0;
    for (let i = Math.max(0, keep); i < pieces.length; i++) longest = Math.max(longest, pieces[i][0].length);
    if (longest > MAX_PIECE) {
      this.degraded = true;
      this.committed += this.tailBytes;
      this.tail = '';
      this.tailBytes = 0;
    }
    this.commitAt = Math.max(COMMIT_AT, 2 * this.tail.length);
  }

  /** The family's estimate from a BPE count: ExactMeter.text's rule, applied to the whole text. */
  private estimate(n: number, bytes: number, runs: number, numerals: Numerals | undefined): number {
    return bytes === 0 ? n : familyEstimate(this.profile, n, bytes, () => runs, numerals && (() => numerals));
  }
}
