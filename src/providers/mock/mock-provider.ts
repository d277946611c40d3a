// The in-process `mock` provider: the mock upstream's answers without a network hop, for the quick start.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProviderPolicy } from '../../config/policy.js';
import type { Provider, RetrievalRequest, UpstreamRequest, UpstreamResponse } from '../provider.js';
import { passableHeaders, UPSTREAM_PATHS } from '../provider.js';
import { handleMockRequest, MockResponseStore, type MockOptions, type MockReply } from './index.js';

export class MockProvider implements Provider {
  readonly name: string;
  private readonly options: MockOptions;
  /** The responses it created, for the Responses API's retrieval endpoints (as the mock upstream keeps them). */
  private readonly responses = new MockResponseStore();

  constructor(config: ProviderPolicy) {
    this.name = config.name;
    this.options = { latencyMs: config.mock?.latencyMs ?? 0, outputTokens: config.mock?.outputTokens ?? 64 };
  }

  /** The mock speaks both wire formats, so every endpoint is native to it. */
  supports(): boolean {
    return true;
  }

  async send(req: UpstreamRequest): Promise<UpstreamResponse> {
    const reply = handleMockRequest('POST', `/v1${UPSTREAM_PATHS[req.endpoint]}`, req.body, this.options);
    if (req.endpoint === 'responses') this.responses.remember(req.body, reply);
    return this.deliver(reply, req.signal);
  }

  async retrieve(req: RetrievalRequest): Promise<UpstreamResponse> {
    const url = `/v1${req.path}${req.query ? `?${req.query}` : ''}`;
    return this.deliver(this.responses.answer(req.method, url, this.options) ?? handleMockRequest(req.method, url, undefined, this.options), req.signal);
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
