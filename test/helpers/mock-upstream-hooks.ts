// The in-process mock upstream a test file talks to directly (no gateway in front): started before the
// file's (or describe block's) tests, closed after them. Latency 0 and 3 output tokens unless told otherwise.
import { afterAll, beforeAll } from 'vitest';
import { createMockUpstream, type MockUpstream, type MockUpstreamOptions } from '../../src/mock-upstream/index.js';

export interface MockUpstreamHooks {
  /** Its base URL (no /v1), once the hooks have run. */
  readonly url: string;
  readonly upstream: MockUpstream;
}

export function useMockUpstream(opts: MockUpstreamOptions = { latencyMs: 0, outputTokens: 3 }): MockUpstreamHooks {
  let upstream: MockUpstream | undefined;
  let url = '';
  beforeAll(async () => {
    upstream = createMockUpstream(opts);
    url = await upstream.listen(0, '127.0.0.1');
  });
  afterAll(() => upstream?.close());
  return {
    get url() {
      return url;
    },
    get upstream() {
      return upstream!;
    },
  };
}
