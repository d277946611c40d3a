// The bench's reference path: about the least a Node.js reverse proxy can do (node:http in front of an undici
// pool; no auth, no JSON, no limits, no ledger). Whatever latency and CPU it adds on the bench's machine, any
// gateway written in Node pays too, so the report shows it beside Tollgate's.
//
// Bodies are gathered whole, as the gateway does for JSON: for a few hundred bytes, Node's stream plumbing
// (piping request and response through) cost more CPU than the gateway's whole request in a first version.
//
// Run as its own process: `node dist/bench/plain-proxy.js <upstream origin> <upstream key>`; prints
// `listening on <url>` like `tollgate serve`.
import http from 'node:http';
import { Pool } from 'undici';
import { UPSTREAM_CONNECTIONS } from '../providers/provider.js';
// The gateway's own whole-body reader, so both gather bodies the same way.
import { readAll } from '../proxy/upstream-failure.js';

const [upstream, upstreamKey] = process.argv.slice(2);
if (!upstream || !upstreamKey) {
  console.error('usage: plain-proxy.js <upstream origin> <upstream key>');
  process.exit(2);
}

// The same pool size as the gateway's upstream pools (src/providers/upstream-pool.ts).
const pool = new Pool(upstream, { connections: UPSTREAM_CONNECTIONS, keepAliveTimeout: 30_000 });

async function forward(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const body = await readAll(req);
  const answer = await pool.request({
    path: req.url ?? '/',
    method: 'POST',
    headers: { 'content-type': req.headers['content-type'] ?? 'application/json', authorization: `Bearer ${upstreamKey}` },
    body,
  });
  const reply = await readAll(answer.body);
  res.writeHead(answer.statusCode, { 'content-type': String(answer.headers['content-type'] ?? 'application/json'), 'content-length': reply.length });
  res.end(reply);
}

const server = http.createServer((req, res) => {
  forward(req, res).catch((err: Error) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`plain proxy: ${err.message}`);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  console.log(`plain proxy listening on http://127.0.0.1:${port}`);
});
// Nothing to drain or flush: the bench stops it once its rounds are done.
process.on('SIGTERM', () => process.exit(0));
