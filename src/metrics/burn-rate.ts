// Burn rate per organization: tokens and dollars spent over the last few minutes, from a ring of
// short buckets, so a scrape reads a rate without keeping every call.

const BUCKET_MS = 10_000;
/** The rate is averaged over this long. */
export const BURN_WINDOW_MS = 300_000;
const BUCKETS = BURN_WINDOW_MS / BUCKET_MS;

interface Ring {
  epochs: number[];
  tokens: number[];
  usd: number[];
}

export class BurnRate {
  private readonly rings = new Map<string, Ring>();

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

  /** Tokens per minute and USD per hour over the last BURN_WINDOW_MS, per organization. */
  rates(now: number): Array<{ organization: string; tokensPerMinute: number; usdPerHour: number }> {
    const current = Math.floor(now / BUCKET_MS);
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
      out.push({ organization, tokensPerMinute: (tokens * 60_000) / BURN_WINDOW_MS, usdPerHour: (usd * 3_600_000) / BURN_WINDOW_MS });
    }
    return out;
  }
}
