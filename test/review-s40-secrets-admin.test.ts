// QA pass (s40, secrets): who may read the admin API and /metrics. Each takes its own secret as
// `Authorization: Bearer` (README "Errors": 401 `admin_key_required`, 401 `metrics_token_required`);
// neither another secret of the gateway (a client's virtual key, the metrics token, the admin key),
// nor the right one in another header, opens it. Comparison: src/admin/admin-auth.ts hashes what was
// presented and compares digests with timingSafeEqual (equal lengths), so neither the key nor its
// length shows in the timing. The answers quote none of the secrets.
import { describe, expect, it } from 'vitest';
import { useUsageGateway } from './helpers/usage-gateway.js';

const ADMIN = 'adm-s40-Admin0Key1Secret2abcdef';
const METRICS = 'met-s40-Metrics0Token1Secret2ab';
const CLIENT = 'tg-s40-Client0Key1Secret2abcdef';

const gw = useUsageGateway((ledger) => `
server: {admin_key: ${ADMIN}}
metrics: {bearer_token: ${METRICS}}
storage: {ledger: "${ledger}"}
providers: {demo: {type: mock, output_tokens: 3}}
routes: {r: {chat_models: [{model_id: m, model: demo/gpt-4o}]}}
keys: [{id: alice, key: ${CLIENT}}]
`);

async function status(method: 'GET' | 'HEAD', path: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  const res = await fetch(`${gw().url}${path}`, { method, headers });
  return { status: res.status, text: `${JSON.stringify([...res.headers])} ${await res.text()}` };
}

describe('the admin API and /metrics', () => {
  it('open to their own bearer secret only, and quote no secret', async () => {
    const seen: string[] = [];
    const wrong: Record<string, string>[] = [
      {},
      { authorization: `Bearer ${CLIENT}` },
      { 'x-api-key': CLIENT },
      { 'x-api-key': ADMIN },
      { authorization: `Basic ${Buffer.from(`admin:${ADMIN}`).toString('base64')}` },
      { authorization: ADMIN },
      { authorization: `Bearer ${ADMIN.slice(0, -1)}` },
      { authorization: `Bearer ${ADMIN}x` },
      { authorization: 'Bearer ' },
    ];
    for (const path of ['/api/tokens/dashboard', '/api/audit']) {
      for (const headers of [...wrong, { authorization: `Bearer ${METRICS}` }]) {
        for (const method of ['GET', 'HEAD'] as const) {
          const r = await status(method, path, headers);
          expect(r.status, `${method} ${path} ${JSON.stringify(headers)}`).toBe(401);
          seen.push(r.text);
        }
      }
      // Any case of the scheme, and white space around the key, as RFC 9110 allows.
      for (const authorization of [`Bearer ${ADMIN}`, `bearer ${ADMIN}`, `BEARER  ${ADMIN} `]) {
        const r = await status('GET', path, { authorization });
        expect(r.status, `${path} ${authorization}`).toBe(200);
      }
    }
    for (const headers of [...wrong, { authorization: `Bearer ${ADMIN}` }]) {
      const r = await status('GET', '/metrics', headers);
      expect(r.status, `/metrics ${JSON.stringify(headers)}`).toBe(401);
      seen.push(r.text);
    }
    const metrics = await status('GET', '/metrics', { authorization: `Bearer ${METRICS}` });
    expect(metrics.status).toBe(200);
    seen.push(metrics.text);
    // The client's key still calls the model (its secret is not refused as "an admin key").
    const call = await fetch(`${gw().url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${CLIENT}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }) });
    expect(call.status).toBe(200);
    const all = seen.join('\n');
    expect(all).toContain('admin_key_required');
    expect(all).toContain('metrics_token_required');
    for (const secret of [ADMIN, METRICS, CLIENT]) expect(all).not.toContain(secret.slice(4, 24));
  });
});
