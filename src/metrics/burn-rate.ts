// Burn rate per organization: tokens and dollars spent over the last few minutes, from a ring of
// short buckets, so a scrape reads a rate without keeping every call.

const BUCKET_MS = 10_000;
/** The rate is averaged over this long. */
export const BURN_WINDOW_MS = 300_000;
/**
 * The shortest time a rate is averaged over. Right after a start the window holds only the seconds
 * since: dividing by those makes the first call read as a huge rate, so until a minute has passed the
 * rate reads low instead (in proportion), never high.
 */
export const MIN_BURN_SPAN_MS = 60_000;
const BUCKETS = BURN_WINDOW_MS / BUCKET_MS;

interface Ring {
  epochs: number[];
  tokens: number[];
  usd: number[];
}

export class BurnRate {
  private readonly rings = new Map<string, Ring>();

  /** `startedAt`: when counting began (the gateway's start); before it nothing was seen, so nothing is averaged in. */
  constructor(private readonly startedAt: number) {}

  /** Adds one call's tokens and cost at time `now`. */
  add(organization: string, tokens: number, usd: number, now: number): void {
    let ring = this.rings.get(organization);
    if (!ring) {
      ring = { epochs: new Array<number>(BUCKETS).fill(-1), tokens: new Array<number>(BUCKETS).fill(0), usd: new Array<number>(BUCKETS).fill(0) };
      this.rings.set(organization, ring);
    }
    const epoch = Math.floor(now / BUCKET_MS);
    const i = epoch % BUCKETS;
    if (ring.epochs[i] !== epoch) {
      ring.epochs[i] = epoch;
      ring.tokens[i] = 0;
      ring.usd[i] = 0;
    }
    ring.tokens[i] += tokens;
    ring.usd[i] += usd;
  }

  /**
   * Tokens per minute and USD per hour per organization, over the time the ring's buckets actually
   * cover: BURN_WINDOW_MS less the part of the current bucket still to come, and no further back than
   * the start (so a fresh gateway's rate is not diluted by minutes it never saw), at least MIN_BURN_SPAN_MS.
   */
  rates(now: number): Array<{ organization: string; tokensPerMinute: number; usdPerHour: number }> {
    const current = Math.floor(now / BUCKET_MS);
    const oldestBucketStart = (current - BUCKETS + 1) * BUCKET_MS;
    const spanMs = Math.max(MIN_BURN_SPAN_MS, now - Math.max(oldestBucketStart, this.startedAt));
    const out = [];
    for (const [organization, ring] of this.rings) {
      let tokens = 0;
      let usd = 0;
      for (let i = 0; i < BUCKETS; i++) {
        if (current - ring.epochs[i] < BUCKETS) {
          tokens += ring.tokens[i];
          usd += ring.usd[i];
        }
      }
      out.push({ organization, tokensPerMinute: (tokens * 60_000) / spanMs, usdPerHour: (usd * 3_600_000) / spanMs });
    }
    return out;
  }
}
