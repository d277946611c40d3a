// The in-process `mock` provider: the mock upstream's answers without a network hop, for the quick start.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProviderPolicy } from '../../config/policy.js';
import type { Provider, RetrievalRequest, UpstreamRequest, UpstreamResponse } from '../provider.js';
import { passableHeaders, UPSTREAM_PATHS } from '../provider.js';
import { SecretMask } from '../secret-mask.js';
import { handleMockRequest, MockStoredObjects, type MockOptions, type MockReply } from './index.js';
import { DEFAULT_MOCK_LATENCY_MS, DEFAULT_MOCK_OUTPUT_TOKENS } from '../../mock-upstream/defaults.js';

export class MockProvider implements Provider {
  readonly name: string;
  /** In process: nothing is sent anywhere, so nothing can be echoed back. */
  readonly secrets = SecretMask.NONE;
  private readonly options: MockOptions;
  /** The responses and conversations it made, for their own endpoints (as the mock upstream keeps them). */
  private readonly stored = new MockStoredObjects();

  constructor(config: ProviderPolicy) {
    this.name = config.name;
    this.options = { latencyMs: config.mock?.latencyMs ?? DEFAULT_MOCK_LATENCY_MS, outputTokens: config.mock?.outputTokens ?? DEFAULT_MOCK_OUTPUT_TOKENS };
    if (config.defaultServiceTier) this.options.defaultServiceTier = config.defaultServiceTier;
  }

  /** The mock speaks both wire formats, so every endpoint is native to it. */
  supports(): boolean {
    return true;
  }

  async send(req: UpstreamRequest): Promise<UpstreamResponse> {
    const path = `/v1${UPSTREAM_PATHS[req.endpoint]}`;
    if (req.endpoint !== 'responses') return this.deliver(handleMockRequest('POST', path, req.body, this.options), req.signal);
    const refused = this.stored.answer('POST', path, req.body, this.options);
    if (refused) return this.deliver(refused, req.signal);
    return this.deliver(this.stored.remember(req.body, handleMockRequest('POST', path, req.body, this.options)), req.signal);
  }

  async retrieve(req: RetrievalRequest): Promise<UpstreamResponse> {
    const url = `/v1${req.path}${req.query ? `?${req.query}` : ''}`;
    const body = req.body === undefined ? undefined : (JSON.parse(req.body) as unknown);
    return this.deliver(this.stored.answer(req.method, url, body, this.options) ?? handleMockRequest(req.method, url, body, this.options), req.signal);
  }

  private async deliver(reply: MockReply, signal: AbortSignal | undefined): Promise<UpstreamResponse> {
    if (reply.latencyMs > 0) await sleep(reply.latencyMs, undefined, { signal });
    return { status: reply.status, headers: passableHeaders(reply.headers, reply.status), body: bodyOf(reply, signal) };
  }

  async close(): Promise<void> {}
}

async function* bodyOf(reply: MockReply, signal: AbortSignal | undefined): AsyncIterable<Uint8Array> {
  if (reply.kind === 'json') {
    yield Buffer.from(reply.body);
    return;
  }
  for (let i = 0; i < reply.frames.length; i++) {
    if (reply.abortAfterFrames !== undefined && i >= reply.abortAfterFrames) throw new Error('mock upstream aborted the stream');
    if (reply.chunkDelayMs > 0 && i > 0) await sleep(reply.chunkDelayMs, undefined, { signal });
    yield Buffer.from(reply.frames[i]);
  }
}
