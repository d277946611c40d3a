import type { FastifyBaseLogger } from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { credentialsRefused } from './upstream-failure.js';

/** A logger that keeps its warnings. */
function warnings(): { log: FastifyBaseLogger; lines: string[] } {
  const lines: string[] = [];
  const log = { warn: (_fields: object, message: string) => lines.push(message) } as unknown as FastifyBaseLogger;
  return { log, lines };
}

afterEach(() => vi.useRealTimers());

describe("a provider refusing the gateway's key", () => {
  it('is a 502 the SDKs do not retry', () => {
    const err = credentialsRefused('p-status', 401, warnings().log);
    expect(err).toMatchObject({ status: 502, code: 'upstream_error', headers: { 'x-should-retry': 'false' } });
    // The message says so too, instead of the other 502s' "try again".
    expect(err.message).toMatch(/Nothing was charged; a retry cannot succeed until the gateway's operator fixes its provider key\.$/);
  });

  it('is logged for the operator once a minute per provider, naming the setting to fix', () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 11, 4, 12), toFake: ['Date'] });
    const { log, lines } = warnings();
    for (let i = 0; i < 5; i++) credentialsRefused('p-a', 401, log);
    credentialsRefused('p-b', 403, log);
    expect(lines).toEqual([
      `provider "p-a" refused the gateway's API key (HTTP 401): check providers.p-a.api_key; callers get a 502`,
      `provider "p-b" refused the gateway's API key (HTTP 403): check providers.p-b.api_key; callers get a 502`,
    ]);
    vi.setSystemTime(Date.UTC(2026, 11, 4, 12, 1));
    credentialsRefused('p-a', 401, log);
    expect(lines).toHaveLength(3);
  });
});
