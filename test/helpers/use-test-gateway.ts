// A test gateway (alone, or in front of its own mock upstream) for the tests of one file or describe block.
import { afterAll, beforeAll } from 'vitest';
import type { MockUpstream, MockUpstreamOptions } from '../../src/mock-upstream/index.js';
import { startBehindMock, startTestGateway, stopBehindMock, type TestGateway } from './in-process.js';

/**
 * In the calling describe block (or file): startTestGateway(yaml) before its tests, closed after them.
 * Returns a getter for the gateway, once started.
 */
export function useTestGateway(yaml: string): () => TestGateway {
  let gw: TestGateway | undefined;
  beforeAll(async () => {
    gw = await startTestGateway(yaml);
  });
  afterAll(() => gw?.close());
  return () => gw!;
}

export interface UsedBehindMock {
  gw: () => TestGateway;
  upstream: () => MockUpstream;
  /** The mock's base URL (no `/v1`), for calls straight to it. */
  upstreamUrl: () => string;
}

/**
 * In the calling describe block (or file): startBehindMock(mock, yaml, startMs) before its tests,
 * stopBehindMock after them. Returns getters for what it started, once started.
 */
export function useBehindMock(mock: MockUpstreamOptions, yaml: (upstreamUrl: string) => string, startMs?: number): UsedBehindMock {
  let started: { upstream: MockUpstream; gw: TestGateway } | undefined;
  let upstreamUrl: string | undefined;
  beforeAll(async () => {
    started = await startBehindMock(
      mock,
      (url) => {
        upstreamUrl = url;
        return yaml(url);
      },
      startMs,
    );
  });
  afterAll(() => stopBehindMock(started?.gw, started?.upstream));
  return { gw: () => started!.gw, upstream: () => started!.upstream, upstreamUrl: () => upstreamUrl! };
}
