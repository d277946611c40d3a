// What the Anthropic billing tests share (prompt caching, fast mode and US-only inference, server-side
// fallbacks): a mock upstream speaking Anthropic's wire format, a gateway in front of it with the usage
// services on (a `claude` provider, a SQLite ledger flushed every 20 ms), and readers of what the gateway
// sent upstream and recorded in the ledger.
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, expect } from 'vitest';
import type { LedgerRow } from '../../src/ledger/ledger.js';
import { createMockUpstream, type MockUpstream } from '../../src/mock-upstream/index.js';
import { estimateInput } from '../../src/tokens/index.js';
import { useUsageGateway, type UsageTestGateway } from './usage-gateway.js';

/** The provider key the gateway must send (and the mock requires). */
export const UPSTREAM_KEY = 'sk-ant-upstream';

export interface AnthropicBilling {
  gw: () => UsageTestGateway;
  upstream: () => MockUpstream;
  /** The mock's base URL. */
  upstreamUrl: () => string;
  /** An Anthropic SDK client of the gateway with `key`, without retries. */
  anthropic: (key: string) => Anthropic;
  /** The ledger row of a request id, once the writer has flushed. */
  rowOf: (requestId: string | null | undefined) => Promise<LedgerRow>;
  /** The body of the last request the mock received. */
  lastSent: () => Record<string, unknown>;
  /** The prompt of the last request as the mock counted it (the body the gateway sent, with the gateway's estimator). */
  lastPrompt: () => number;
}

/**
 * In the calling describe block: the mock upstream (answering 20 output tokens), then a gateway on the
 * config `rest(upstreamUrl)` adds to the shared head (its pricing, projects, routes and keys).
 */
export function useAnthropicBilling(rest: (upstreamUrl: string) => string): AnthropicBilling {
  let upstream: MockUpstream | undefined;
  let url = '';
  beforeAll(async () => {
    upstream = createMockUpstream({ latencyMs: 0, outputTokens: 20, apiKey: UPSTREAM_KEY });
    url = await upstream.listen(0, '127.0.0.1');
  });
  afterAll(() => upstream?.close());
  const gw = useUsageGateway(
    (ledgerUrl) => `
storage: {ledger: "${ledgerUrl}"}
ledger: {flush_interval_ms: 20}
server: {timezone: UTC}
providers:
  claude: {type: anthropic, base_url: "${url}", api_key: ${UPSTREAM_KEY}}
${rest(url)}`,
  );
  const lastSent = (): Record<string, unknown> => upstream!.requests().at(-1)!.body as Record<string, unknown>;
  return {
    gw,
    upstream: () => upstream!,
    upstreamUrl: () => url,
    anthropic: (key) => new Anthropic({ baseURL: gw().url, apiKey: key, maxRetries: 0 }),
    async rowOf(requestId) {
      await gw().usage.writer.flush();
      const [row] = await gw().usage.ledger.rows({ requestIds: [requestId!] });
      expect(row).toBeDefined();
      return row!;
    },
    lastSent,
    lastPrompt: () => estimateInput('messages', lastSent(), lastSent().model as string).exact(),
  };
}
