// A load-client process for the multi-instance tests: `node redis-load-client.mjs '<job json>'`.
// Job: {urls: string[], startAt: epoch ms, paceMs?: number, requests: [{key, body}]}. Connects to every
// gateway, waits until startAt (so several clients release their requests together), sends all requests
// at once (or the i-th `i * paceMs` later), round-robin over the gateways, and prints one JSON array of
// results on stdout.
import { Pool } from 'undici';

const job = JSON.parse(process.argv[2]);
const pools = job.urls.map((url) => new Pool(url, { connections: Math.ceil(job.requests.length / job.urls.length) + 1 }));

// Open the connections before the start line, so the burst is not spread out by TCP handshakes.
await Promise.all(pools.map((pool) => pool.request({ method: 'GET', path: '/healthz' }).then((r) => r.body.dump())));
await new Promise((resolve) => setTimeout(resolve, Math.max(0, job.startAt - Date.now())));

const results = await Promise.all(
  job.requests.map(async (r, i) => {
    if (job.paceMs) await new Promise((resolve) => setTimeout(resolve, i * job.paceMs));
    const t0 = performance.now();
    try {
      const res = await pools[i % pools.length].request({
        method: 'POST',
        path: '/v1/chat/completions',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${r.key}` },
        body: JSON.stringify(r.body),
      });
      const text = await res.body.text();
      let json;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return {
        key: r.key,
        status: res.statusCode,
        ms: performance.now() - t0,
        usage: json?.usage ? { input: json.usage.prompt_tokens, output: json.usage.completion_tokens } : undefined,
        code: json?.error?.code,
        limit: res.headers['x-tollgate-limit'],
      };
    } catch (err) {
      return { key: r.key, status: 0, ms: performance.now() - t0, code: String(err) };
    }
  }),
);
await Promise.all(pools.map((p) => p.close()));
process.stdout.write(JSON.stringify(results));
