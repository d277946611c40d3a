// QA fuzz review: `dimensions` on /v1/embeddings is checked by the mock (openai-embeddings.ts mockEmbeddings)
// only for being a positive integer, then a Float32Array of that length is made (mockEmbeddingVector,
// src/providers/mock/openai-embeddings.ts:27). A `dimensions` of 1e308 (or 2^40) throws a RangeError:
//  - in `tollgate mock-upstream` it is thrown in the request's 'end' handler (create-mock-upstream.ts:136),
//    an uncaught exception: the process dies, and every later call through the gateway fails;
//  - in the gateway's own `type: mock` provider the client gets a 502 upstream_error ("could not be reached
//    or failed (Invalid typed array length: 1e+308)") for its own mistake.
// OpenAI answers a 400 for a `dimensions` the model does not support. Expected: a 400 in OpenAI's format,
// and the mock upstream still serving.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';
import { useTestGateway } from './helpers/use-test-gateway.js';

const post = (url: string, body: unknown, signal?: AbortSignal): Promise<Response> =>
  fetch(`${url}/v1/embeddings`, { method: 'POST', signal, headers: { authorization: 'Bearer tg-k', 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('tollgate mock-upstream and a huge embeddings dimensions (QA fuzz)', () => {
  let upstream: RunningProcess | undefined;
  let gateway: RunningProcess | undefined;
  beforeAll(async () => {
    upstream = await startCli(['mock-upstream', '--host', '127.0.0.1', '--port', '0']);
    const config = writeConfig(`
server: {host: 127.0.0.1, port: 0}
storage: {ledger: "sqlite:${path.join(mkdtempSync(path.join(tmpdir(), 'review-fuzz-')), 'ledger.db')}"}
providers: {gpt: {type: openai, base_url: "${upstream.url}/v1", api_key: sk-up, timeout_ms: 3000}}
projects: {p: {daily_limit: 1000000}}
routes: {main: {embedding_models: [{model_id: emb, model: gpt/text-embedding-3-small}]}}
keys: [{id: k, key: tg-k, project: p}]
`);
    gateway = await startCli(['serve', '--config', config]);
  });
  afterAll(async () => {
    await gateway?.stop();
    await upstream?.stop();
  });

  it('answers dimensions: 1e308 with a 400 and keeps serving', async () => {
    const res = await post(gateway!.url, { model: 'emb', input: 'hello', dimensions: 1e308 }, AbortSignal.timeout(8000)).catch((e: unknown) => e);
    // Observed: the mock-upstream process exits with "RangeError: Invalid typed array length: 1e+308"; the
    // gateway answers 502 upstream_error (connection closed) and every later call fails to connect.
    expect(res).toBeInstanceOf(Response);
    const r = res as Response;
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
    expect(upstream!.child.exitCode).toBeNull();
    expect(upstream!.child.signalCode).toBeNull();
    const after = await post(gateway!.url, { model: 'emb', input: 'hello' });
    expect(after.status).toBe(200);
  });
});

describe("the gateway's own mock provider and a huge embeddings dimensions (QA fuzz)", () => {
  const gw = useTestGateway(`
providers: {demo: {type: mock}}
projects: {p: {daily_limit: 1000000}}
routes: {main: {embedding_models: [{model_id: emb, model: demo/text-embedding-3-small}]}}
keys: [{id: k, key: tg-k, project: p}]
`);
  it('is a 400 invalid_request_error, not a 502 upstream_error', async () => {
    const res = await post(gw().url, { model: 'emb', input: 'hello', dimensions: 2 ** 40 });
    const body = (await res.json()) as { error: { type: string; code: string; message: string } };
    // Observed: 502 {"code":"upstream_error","message":"The upstream provider 'demo' could not be reached or failed (Invalid typed array length: 1099511627776). ..."}
    expect(res.status).toBe(400);
    expect(body.error.type).toBe('invalid_request_error');
  });
});
