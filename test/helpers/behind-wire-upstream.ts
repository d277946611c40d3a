// A test gateway in front of its own wire upstream (wire-upstream.ts), for one test or for the tests of
// one file or describe block. The gateway stops first, then the upstream.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll } from 'vitest';
import { startTestGateway, type TestGateway } from './in-process.js';
import { startWireUpstream, type WireUpstream } from './wire-upstream.js';

type Answer = (req: IncomingMessage, res: ServerResponse, raw: string) => void;

/** Runs `body` against a gateway from `yaml(upstream.url)` in front of an upstream answering with `answer`, then stops both, whatever `body` did. */
export async function withBehindWireUpstream<T>(answer: Answer, yaml: (upstreamUrl: string) => string, body: (gw: TestGateway) => Promise<T>): Promise<T> {
  const upstream = await startWireUpstream(answer);
  try {
    const gw = await startTestGateway(yaml(upstream.url));
    try {
      return await body(gw);
    } finally {
      await gw.close();
    }
  } finally {
    await upstream.close();
  }
}

/**
 * In the calling describe block (or file): an upstream answering with `answer` and a gateway from
 * `yaml(upstream.url)`, started before its tests and stopped after them. Returns getters, once started.
 */
export function useBehindWireUpstream(answer: Answer, yaml: (upstreamUrl: string) => string): { gw: () => TestGateway; upstream: () => WireUpstream } {
  let upstream: WireUpstream | undefined;
  let gw: TestGateway | undefined;
  beforeAll(async () => {
    upstream = await startWireUpstream(answer);
    gw = await startTestGateway(yaml(upstream.url));
  });
  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });
  return { gw: () => gw!, upstream: () => upstream! };
}
