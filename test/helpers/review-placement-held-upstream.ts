// The mock upstream in this process, behind a front that holds back the answer to a call the test marks
// (`"test_hold": true` in its body, taken out before the mock sees it: the mock refuses unknown fields),
// until the test releases it. A call that must run through a scenario (two outages, a placement between
// them) then runs exactly as long as the scenario, rather than for a mock_latency_ms picked to outlast it
// on a slow machine. Everything else is forwarded as it is, headers and all.
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMockUpstream } from '../../src/mock-upstream/index.js';

export interface HeldUpstream {
  url: string;
  /** Resolves once a marked call reached the upstream (the gateway admitted it and called out). */
  arrived: Promise<void>;
  /** Lets the marked call's answer go. */
  release(): void;
  close(): Promise<void>;
}

export async function startHeldUpstream(): Promise<HeldUpstream> {
  const mock = createMockUpstream({});
  const mockUrl = new URL(await mock.listen(0, '127.0.0.1'));
  let arrive!: () => void;
  const arrived = new Promise<void>((r) => (arrive = r));
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const front = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body = Buffer.concat(chunks);
    let hold = false;
    if (body.length > 0 && /json/.test(req.headers['content-type'] ?? '')) {
      const json = JSON.parse(body.toString()) as Record<string, unknown>;
      if (json.test_hold === true) {
        hold = true;
        delete json.test_hold;
        body = Buffer.from(JSON.stringify(json));
        arrive();
      }
    }
    const headers: IncomingHttpHeaders = { ...req.headers, host: mockUrl.host, 'content-length': String(body.length) };
    delete headers['transfer-encoding'];
    const up = request({ host: mockUrl.hostname, port: mockUrl.port, method: req.method, path: req.url, headers }, async (upRes) => {
      if (hold) await released;
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', () => res.destroy());
    up.end(body);
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(front.address() as AddressInfo).port}`,
    arrived,
    release,
    close: async () => {
      release();
      const closing = new Promise<void>((r) => front.close(() => r()));
      front.closeAllConnections();
      await closing;
      await mock.close();
    },
  };
}
