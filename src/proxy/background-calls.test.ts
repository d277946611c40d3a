// BackgroundCalls on its own: the order of its timers and settlements, which the end-to-end tests
// (test/background-responses.test.ts) cannot pin down. The provider here is a function answering the
// poll as the Responses API would (the Provider interface is the gateway's own).
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Provider, UpstreamResponse } from '../providers/provider.js';
import type { Usage } from '../providers/usage.js';
import { BackgroundCalls, backgroundDeadlineMs, type BackgroundCall, type GiveUpReason } from './background-calls.js';

const USAGE: Usage = { input: 20, output: 42, cachedInput: 0, source: 'provider' };

function answering(answer: () => { status: number; body: object }): Provider {
  const retrieve = async (): Promise<UpstreamResponse> => {
    const { status, body } = answer();
    return { status, headers: {}, body: Readable.from([Buffer.from(JSON.stringify(body))]) };
  };
  return { retrieve } as unknown as Provider;
}

interface Finished {
  usage: Usage | undefined;
  why: GiveUpReason | 'finished';
}

function call(provider: Provider, finish: (f: Finished) => Promise<void> | void): BackgroundCall {
  return {
    responseId: 'resp_1',
    provider,
    requestId: 'req_1',
    usageOf: (raw) => ((JSON.parse(raw.toString()) as { usage: unknown }).usage ? USAGE : undefined),
    finish: async (usage, why) => finish({ usage, why }),
  };
}

const until = async (cond: () => boolean): Promise<void> => {
  for (let i = 0; !cond() && i < 200; i++) await new Promise((r) => setTimeout(r, 5));
};

describe('BackgroundCalls', () => {
  it('polls until the response ends, then settles once with its usage', async () => {
    let polls = 0;
    const provider = answering(() => ({ status: 200, body: ++polls < 3 ? { status: 'in_progress', usage: null } : { status: 'completed', usage: {} } }));
    const finished: Finished[] = [];
    const calls = new BackgroundCalls({ firstMs: 5, maxMs: 10 });
    calls.track(
      call(provider, (f) => void finished.push(f)),
      10_000,
    );
    await until(() => finished.length > 0);
    expect(finished).toEqual([{ usage: USAGE, why: 'finished' }]);
    expect(polls).toBe(3);
    expect(calls.size).toBe(0);
  });

  it('gives up at the deadline even while a poll hangs', async () => {
    const provider = { retrieve: () => new Promise(() => {}) } as unknown as Provider;
    const finished: Finished[] = [];
    const calls = new BackgroundCalls({ firstMs: 1, maxMs: 1 });
    calls.track(
      call(provider, (f) => void finished.push(f)),
      50,
    );
    await until(() => finished.length > 0);
    expect(finished).toEqual([{ usage: undefined, why: 'deadline' }]);
  });

  it('a terminal response without usage, or a 404, is settled with the grant', async () => {
    const finished: Finished[] = [];
    const calls = new BackgroundCalls({ firstMs: 1, maxMs: 1 });
    calls.track(
      call(
        answering(() => ({ status: 200, body: { status: 'cancelled', usage: null } })),
        (f) => void finished.push(f),
      ),
      10_000,
    );
    calls.track(
      call(
        answering(() => ({ status: 404, body: { error: { message: 'not found' } } })),
        (f) => void finished.push(f),
      ),
      10_000,
    );
    await until(() => finished.length === 2);
    expect(finished.map((f) => f.why).sort()).toEqual(['gone', 'no_usage']);
    expect(finished.every((f) => f.usage === undefined)).toBe(true);
  });

  it('finishAll settles the waiting ones with the grant and waits for a settlement under way', async () => {
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    const order: string[] = [];
    const calls = new BackgroundCalls({ firstMs: 1, maxMs: 1 });
    // One ends at its first poll, and its settlement takes until `release`.
    calls.track(
      call(
        answering(() => ({ status: 200, body: { status: 'completed', usage: {} } })),
        async () => {
          order.push('ended: settling');
          await slow;
          order.push('ended: settled');
        },
      ),
      10_000,
    );
    // The other never ends.
    calls.track(
      call(
        answering(() => ({ status: 200, body: { status: 'in_progress', usage: null } })),
        (f) => void order.push(`running: ${f.why}`),
      ),
      10_000,
    );
    await until(() => order.includes('ended: settling'));
    expect(calls.size).toBe(1);
    const all = calls.finishAll().then(() => order.push('finishAll'));
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual(['ended: settling', 'running: stopping']);
    release();
    await all;
    expect(order).toEqual(['ended: settling', 'running: stopping', 'ended: settled', 'finishAll']);
    expect(calls.size).toBe(0);
  });

  it('finishAll asks each waiting call once more: one that ended since its last poll keeps its usage', async () => {
    let ended = false;
    const finished: Finished[] = [];
    // Polled every minute: without a last poll, a response that ended in between is charged its grant.
    const calls = new BackgroundCalls({ firstMs: 60_000, maxMs: 60_000 });
    calls.track(
      call(
        answering(() => ({ status: 200, body: ended ? { status: 'completed', usage: {} } : { status: 'in_progress', usage: null } })),
        (f) => void finished.push(f),
      ),
      600_000,
    );
    calls.track(
      call(
        answering(() => ({ status: 200, body: { status: 'in_progress', usage: null } })),
        (f) => void finished.push(f),
      ),
      600_000,
    );
    ended = true;
    await calls.finishAll();
    expect(finished).toEqual(expect.arrayContaining([{ usage: USAGE, why: 'finished' }, { usage: undefined, why: 'stopping' }]));
    expect(finished).toHaveLength(2);
    expect(calls.size).toBe(0);
  });

  it('finishAll waits for a settlement that a poll already under way when it started begins during the last polls', async () => {
    const order: string[] = [];
    let retrievals = 0;
    // The first poll (under way when finishAll starts) answers 'completed' after 30 ms; the last poll
    // never answers, giving up only when its signal does.
    const provider = {
      retrieve: ({ signal }: { signal: AbortSignal }): Promise<UpstreamResponse> => {
        if (++retrievals === 1) {
          const body = Readable.from([Buffer.from(JSON.stringify({ status: 'completed', usage: {} }))]);
          return new Promise((r) => setTimeout(() => r({ status: 200, headers: {}, body }), 30));
        }
        return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
      },
    } as unknown as Provider;
    const calls = new BackgroundCalls({ firstMs: 1, maxMs: 60_000 });
    calls.track(
      call(provider, async (f) => {
        order.push(`settling: ${f.why}`);
        await new Promise((r) => setTimeout(r, 100));
        order.push('settled');
      }),
      600_000,
    );
    await until(() => retrievals === 1);
    await calls.finishAll({ withinMs: 1_000, atOnce: 16 });
    order.push('finishAll');
    expect(retrievals).toBe(2);
    expect(order).toEqual(['settling: finished', 'settled', 'finishAll']);
  });

  it('finishAll gives the last polls a bounded time: a provider that does not answer costs that, then the grant', async () => {
    const finished: Finished[] = [];
    const calls = new BackgroundCalls({ firstMs: 60_000, maxMs: 60_000 });
    // Never answers, but gives up when its signal does, as the real provider's request does.
    const hanging = { retrieve: ({ signal }: { signal: AbortSignal }) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))) } as unknown as Provider;
    for (let i = 0; i < 40; i++) calls.track(call(hanging, (f) => void finished.push(f)), 600_000);
    const started = Date.now();
    await calls.finishAll({ withinMs: 100, atOnce: 16 });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(finished).toHaveLength(40);
    expect(finished.every((f) => f.usage === undefined && f.why === 'stopping')).toBe(true);
  });

  it('follows no more than its maximum at once', () => {
    const calls = new BackgroundCalls({ firstMs: 60_000, maxMs: 60_000 }, 1);
    expect(calls.hasRoom).toBe(true);
    calls.track(
      call(
        answering(() => ({ status: 200, body: {} })),
        () => {},
      ),
      60_000,
    );
    expect(calls.hasRoom).toBe(false);
    return calls.finishAll();
  });

  it('the deadline stays short of the reservation TTL: a minute, or half of a shorter TTL', () => {
    expect(backgroundDeadlineMs(900_000)).toBe(840_000);
    expect(backgroundDeadlineMs(4_000)).toBe(2_000);
  });
});
