// Background responses (`background: true` on /v1/responses) are answered `queued`, with no usage, and
// generated after the gateway answered. Their reservation (the input estimate and the whole output grant)
// stays open while the gateway asks the provider, with the provider's own key, how the response ended
// (GET /responses/{id}, at growing intervals); the call is then settled and recorded with the usage the
// provider reports, like any other call. Until then the limits count the whole grant, so nothing passes
// them meanwhile. When the end cannot be learnt in time the call is settled with its whole grant
// (estimated), never less than the provider may bill: the finished response reports no usage, the
// provider no longer has it (404), the deadline passes, or the gateway stops (finishAll, after one last
// poll of each: one that ended since its previous poll, up to 15 s earlier, keeps its real usage).
import type { Provider } from '../providers/provider.js';
import type { Usage } from '../providers/usage.js';
import { readAll } from './upstream-failure.js';

export interface BackgroundCall {
  responseId: string;
  provider: Provider;
  /** The call's request id, sent on with each poll. */
  requestId: string;
  /** The usage a finished response's JSON reports; undefined when it reports none. */
  usageOf(raw: Buffer): Usage | undefined;
  /**
   * Settles and records the call: with `usage`, or with its whole grant when undefined; `failed` when the
   * provider ended the response `failed` (FAILED_ENDS). Reports its own failures.
   */
  finish(usage: Usage | undefined, why: GiveUpReason | 'finished', failed: boolean): Promise<void>;
}

/** Why a call was settled with its whole grant rather than the provider's figures. */
export type GiveUpReason = 'no_usage' | 'gone' | 'deadline' | 'stopping';

export interface PollSchedule {
  /** The first poll, this long after the answer. */
  firstMs: number;
  /** Each later poll waits twice as long as the one before, up to this. */
  maxMs: number;
}

/** OpenAI's advice is to poll every couple of seconds; most background responses end within minutes. */
export const DEFAULT_POLLING: PollSchedule = { firstMs: 1_000, maxMs: 15_000 };

/**
 * Background calls followed at once, at most: each keeps its request's body and a poll every 15 s at
 * worst. Past it a new one is charged its whole grant at once, as it was before the gateway followed them.
 */
export const MAX_FOLLOWED = 10_000;

/**
 * At stop, how long the last polls may take in all, and how many run at once: a short, bounded addition
 * to the shutdown (a provider that does not answer costs this, not the provider timeout), and no burst of
 * thousands of requests on the provider's key.
 */
export const LAST_POLLS = { withinMs: 2_000, atOnce: 16 };

/** The statuses after which a response changes no more. */
const TERMINAL: ReadonlySet<string> = new Set(['completed', 'incomplete', 'failed', 'cancelled']);

/**
 * The ends that are the provider's failure: the client gets an error, not an answer, so the call is a
 * failed one (charged what the provider reports it used, its request given back), as a stream the provider
 * fails part-way is (`response.failed`). `incomplete` is an answer cut short (`max_output_tokens`, the
 * content filter), served as a stream's `response.incomplete` is; `cancelled` is the client's own doing
 * (POST /responses/{id}/cancel), served as a stream its client leaves is, for what was produced.
 */
const FAILED_ENDS: ReadonlySet<string> = new Set(['failed']);

/**
 * How long a background call may stay open: short of `reservationTtlMs`, after which a shared store
 * forgets its reservation and a settlement could no longer lower what it holds (the ledger would then say
 * less than the counters). A minute's margin, or half the TTL when that is shorter.
 */
export function backgroundDeadlineMs(reservationTtlMs: number): number {
  return reservationTtlMs - Math.min(60_000, reservationTtlMs / 2);
}

type PollOutcome = { state: 'running' } | { state: 'gone' } | { state: 'ended'; usage: Usage | undefined; failed: boolean };

interface Pending {
  call: BackgroundCall;
  waitMs: number;
  poll?: NodeJS.Timeout;
  deadline?: NodeJS.Timeout;
  /** Stops a poll under way once the call is finished otherwise. */
  abort: AbortController;
  done: boolean;
}

/** The background calls this instance admitted whose responses have not ended; shared across config reloads. */
export class BackgroundCalls {
  private readonly pending = new Set<Pending>();
  /** Settlements under way: finishAll waits for them too, so their rows reach the ledger's last flush. */
  private readonly finishing = new Set<Promise<void>>();

  constructor(
    private readonly schedule: PollSchedule = DEFAULT_POLLING,
    private readonly max = MAX_FOLLOWED,
  ) {}

  /** Calls still waiting for their end. */
  get size(): number {
    return this.pending.size;
  }

  /** Whether one more call can be followed (MAX_FOLLOWED). */
  get hasRoom(): boolean {
    return this.pending.size < this.max;
  }

  /** Follows `call` until its response ends, for at most `deadlineMs`. */
  track(call: BackgroundCall, deadlineMs: number): void {
    const p: Pending = { call, waitMs: this.schedule.firstMs, abort: new AbortController(), done: false };
    // Its own timer, not a check after each poll: a poll that hangs (up to the provider's timeout) must not
    // carry the settlement past the reservation's record. Unref'd: no timer here keeps a process alive.
    p.deadline = setTimeout(() => void this.finish(p, undefined, 'deadline', false), deadlineMs).unref();
    this.pending.add(p);
    this.wait(p);
  }

  /**
   * The gateway is stopping: asks the provider once more about every call still waiting (within
   * `lastPolls`), settles those that ended with their usage and the rest with their whole grant, and
   * waits for every settlement, those already under way included.
   */
  async finishAll(lastPolls = LAST_POLLS): Promise<void> {
    const waiting = [...this.pending];
    for (const p of waiting) clearTimeout(p.poll);
    const timeUp = AbortSignal.timeout(lastPolls.withinMs);
    let next = 0;
    const pollNext = async (): Promise<void> => {
      for (let p = waiting[next++]; p !== undefined; p = waiting[next++]) {
        if (timeUp.aborted) break;
        await this.lastPoll(p, timeUp);
      }
    };
    await Promise.all(Array.from({ length: Math.min(lastPolls.atOnce, waiting.length) }, pollNext));
    // Those the time left unasked, or whose poll it cut.
    for (const p of waiting) void this.finish(p, undefined, 'stopping', false);
    // Every settlement under way now, not only those of the line above: some began before this call, and
    // during the last polls a poll already under way at its start, or a deadline, may have begun others.
    await Promise.all(this.finishing);
  }

  private async lastPoll(p: Pending, timeUp: AbortSignal): Promise<void> {
    const outcome = await ask(p.call, AbortSignal.any([p.abort.signal, timeUp]));
    if (p.done || outcome.state === 'running') return; // still running, or unanswered in time: the grant, below
    if (outcome.state === 'gone') return this.finish(p, undefined, 'gone', false);
    await this.ended(p, outcome);
  }

  private wait(p: Pending): void {
    p.poll = setTimeout(() => void this.poll(p), p.waitMs).unref();
    p.waitMs = Math.min(this.schedule.maxMs, p.waitMs * 2);
  }

  private async poll(p: Pending): Promise<void> {
    const outcome = await ask(p.call, p.abort.signal);
    if (p.done) return; // finished meanwhile: the deadline passed, or the gateway is stopping
    if (outcome.state === 'ended') return this.ended(p, outcome);
    if (outcome.state === 'gone') return this.finish(p, undefined, 'gone', false);
    this.wait(p);
  }

  /** Settles a call whose response ended: with the usage it reports, or its whole grant when it reports none. */
  private ended(p: Pending, outcome: Extract<PollOutcome, { state: 'ended' }>): Promise<void> {
    return this.finish(p, outcome.usage, outcome.usage ? 'finished' : 'no_usage', outcome.failed);
  }

  private async finish(p: Pending, usage: Usage | undefined, why: GiveUpReason | 'finished', failed: boolean): Promise<void> {
    if (p.done) return;
    p.done = true;
    clearTimeout(p.poll);
    clearTimeout(p.deadline);
    p.abort.abort();
    this.pending.delete(p);
    // `finish` reports its own failures; one that slipped through must not become an unhandled rejection.
    const settled = p.call.finish(usage, why, failed).catch(() => undefined);
    this.finishing.add(settled);
    await settled;
    this.finishing.delete(settled);
  }
}

/** One poll: whether the response still runs, is gone, or ended (with the usage it reports). Errors count as running. */
async function ask(call: BackgroundCall, signal: AbortSignal): Promise<PollOutcome> {
  try {
    const res = await call.provider.retrieve!({ method: 'GET', path: `/responses/${encodeURIComponent(call.responseId)}`, query: '', signal, requestId: call.requestId });
    const raw = await readAll(res.body);
    if (res.status === 404) return { state: 'gone' };
    // A 5xx, a 429 or the provider's key refused: asked again at the next poll, until the deadline.
    if (res.status !== 200) return { state: 'running' };
    const status = (JSON.parse(raw.toString('utf8')) as { status?: unknown } | null)?.status;
    if (typeof status !== 'string' || !TERMINAL.has(status)) return { state: 'running' };
    return { state: 'ended', usage: call.usageOf(raw), failed: FAILED_ENDS.has(status) };
  } catch {
    return { state: 'running' };
  }
}
