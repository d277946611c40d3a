// Traffic: each call returns a record {kind, status, requestId, ms, error?}; requestId is what the
// gateway named the call (x-tollgate-request-id), read from the response head the client got.
import { CALL_TIMEOUT_MS, KEYS, secretOf } from './config.mjs';
import { gatewayUrl } from './processes.mjs';

const PROMPTS = ['Say hello.', 'Count to five, slowly.', 'Summarize why budgets matter in one line.', 'Write a haiku about queues.', 'List three prime numbers.'];

function clientsFor({ OpenAI, Anthropic }, key, baseUrl) {
  const common = { apiKey: secretOf(key), maxRetries: 0, timeout: CALL_TIMEOUT_MS - 5_000 };
  return { openai: new OpenAI({ ...common, baseURL: `${baseUrl}/v1` }), anthropic: new Anthropic({ ...common, baseURL: baseUrl }) };
}

const requestIdOf = (response) => response.headers.get('x-tollgate-request-id');

/** Reads a stream to its end, or aborts it after `abortAfter` events (null: never). */
async function consume(stream, controller, abortAfter) {
  let events = 0;
  try {
    for await (const _ of stream) {
      if (abortAfter !== null && ++events >= abortAfter) {
        controller.abort();
        return 'aborted';
      }
    }
    return 'complete';
  } catch (err) {
    if (controller.signal.aborted) return 'aborted';
    throw err;
  }
}

// Each kind of call: (clients, ctx) => Promise<{response, streamEnd?}>. `ctx.maxTokens` is random; some
// streams are aborted part-way by the client, as a user closing a tab does.
const CALLS = {
  async chat({ openai }, ctx) {
    const { response } = await openai.chat.completions
      .create({ model: 'gpt-4o', max_tokens: ctx.maxTokens, mock_output_tokens: ctx.output, messages: [{ role: 'user', content: ctx.prompt }] })
      .withResponse();
    return { response };
  },
  async chatStream({ openai }, ctx) {
    const controller = new AbortController();
    const { data, response } = await openai.chat.completions
      .create(
        { model: 'gpt-4o', stream: true, max_tokens: ctx.maxTokens, mock_output_tokens: ctx.output, mock_chunk_delay_ms: 5, messages: [{ role: 'user', content: ctx.prompt }] },
        { signal: controller.signal },
      )
      .withResponse();
    return { response, streamEnd: await consume(data, controller, ctx.abortAfter) };
  },
  async completions({ openai }, ctx) {
    const { response } = await openai.completions.create({ model: 'gpt-4o', prompt: ctx.prompt, max_tokens: ctx.maxTokens, mock_output_tokens: ctx.output }).withResponse();
    return { response };
  },
  async embeddings({ openai }, ctx) {
    const { response } = await openai.embeddings.create({ model: 'text-embedding-3-small', input: [ctx.prompt, 'second input'] }).withResponse();
    return { response };
  },
  async responses({ openai }, ctx) {
    const { response } = await openai.responses
      .create({ model: 'gpt-4o', input: ctx.prompt, max_output_tokens: Math.max(16, ctx.maxTokens), mock_output_tokens: ctx.output })
      .withResponse();
    return { response };
  },
  async responsesStream({ openai }, ctx) {
    const controller = new AbortController();
    const { data, response } = await openai.responses
      .create({ model: 'gpt-4o', input: ctx.prompt, stream: true, max_output_tokens: Math.max(16, ctx.maxTokens), mock_output_tokens: ctx.output, mock_chunk_delay_ms: 5 }, { signal: controller.signal })
      .withResponse();
    return { response, streamEnd: await consume(data, controller, ctx.abortAfter) };
  },
  async messages({ anthropic }, ctx) {
    const { response } = await anthropic.messages
      .create({ model: 'claude-sonnet-4', max_tokens: ctx.maxTokens, mock_output_tokens: ctx.output, messages: [{ role: 'user', content: ctx.prompt }] })
      .withResponse();
    return { response };
  },
  async messagesStream({ anthropic }, ctx) {
    const controller = new AbortController();
    const { data, response } = await anthropic.messages
      .create(
        { model: 'claude-sonnet-4', stream: true, max_tokens: ctx.maxTokens, mock_output_tokens: ctx.output, mock_chunk_delay_ms: 5, messages: [{ role: 'user', content: ctx.prompt }] },
        { signal: controller.signal },
      )
      .withResponse();
    return { response, streamEnd: await consume(data, controller, ctx.abortAfter) };
  },
  // Invalid calls: never anyone's call, so no ledger row (README, "Usage ledger"), and never a 2xx.
  async unknownModel({ openai }, ctx) {
    const { response } = await openai.chat.completions.create({ model: 'gpt-nope', max_tokens: ctx.maxTokens, messages: [{ role: 'user', content: ctx.prompt }] }).withResponse();
    return { response };
  },
  async badJson(_clients, ctx) {
    const response = await fetch(`${ctx.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secretOf(ctx.key)}`, 'content-type': 'application/json' },
      body: '{"model": "gpt-4o", "messages": [',
      signal: AbortSignal.timeout(CALL_TIMEOUT_MS - 5_000),
    });
    await response.arrayBuffer();
    if (response.ok) return { response };
    const err = new Error(`HTTP ${response.status}`);
    err.status = response.status;
    err.headers = response.headers;
    throw err;
  },
};

// How often each kind is sent (weights).
const MIX = { chat: 5, chatStream: 5, completions: 2, embeddings: 2, responses: 2, responsesStream: 2, messages: 4, messagesStream: 4, unknownModel: 1, badJson: 1 };
const MIX_LIST = Object.entries(MIX).flatMap(([kind, w]) => Array(w).fill(kind));

/** One random call, timed, never throwing: what happened is in the record. */
async function oneCall({ deps, fleet, rng }) {
  const { random, randomInt, pick } = rng;
  const kind = pick(MIX_LIST);
  const key = pick(KEYS);
  const baseUrl = gatewayUrl(fleet, pick);
  const maxTokens = randomInt(1, 96);
  const ctx = {
    key,
    baseUrl,
    prompt: pick(PROMPTS),
    maxTokens,
    // The mock's answer length: usually what was asked, sometimes less (a refund on settlement).
    output: random() < 0.7 ? maxTokens : randomInt(0, maxTokens),
    abortAfter: random() < 0.2 ? randomInt(1, 6) : null,
  };
  const record = { kind, key: key.id, gateway: baseUrl, sentAt: Date.now(), status: 0, requestId: null, ms: 0 };
  let watchdog;
  const hung = new Promise((resolve) => (watchdog = setTimeout(() => resolve('hung'), CALL_TIMEOUT_MS)));
  try {
    const outcome = await Promise.race([CALLS[kind](clientsFor(deps, key, baseUrl), ctx), hung]);
    if (outcome === 'hung') {
      record.hung = true;
    } else {
      record.status = outcome.response.status;
      record.requestId = requestIdOf(outcome.response);
      record.streamEnd = outcome.streamEnd;
    }
  } catch (err) {
    record.status = err.status ?? 0;
    record.requestId = err.headers?.get?.('x-tollgate-request-id') ?? null;
    record.error = err.error?.error?.code ?? err.error?.error?.type ?? err.code ?? err.name ?? String(err);
    record.limit = err.headers?.get?.('x-tollgate-limit') ?? undefined;
  } finally {
    clearTimeout(watchdog);
  }
  record.ms = Date.now() - record.sentAt;
  return record;
}

/** `ctx.cfg.CONCURRENCY` loops of calls until `untilMs`, each call's record pushed to `records`. */
export async function driveTraffic(ctx, untilMs, records) {
  const loop = async () => {
    while (Date.now() < untilMs) records.push(await oneCall(ctx));
  };
  await Promise.all(Array.from({ length: ctx.cfg.CONCURRENCY }, loop));
}

export function summarize(records, seconds) {
  const by = (f) => {
    const m = {};
    for (const r of records) m[f(r)] = (m[f(r)] ?? 0) + 1;
    return m;
  };
  console.log(`calls: ${records.length} (${(records.length / seconds).toFixed(1)}/s)`);
  console.log(`  by status: ${JSON.stringify(by((r) => r.status))}`);
  console.log(`  by kind: ${JSON.stringify(by((r) => r.kind))}`);
  console.log(`  errors: ${JSON.stringify(by((r) => (r.status >= 200 && r.status < 300 ? 'ok' : `${r.status}:${r.error ?? ''}`)))}`);
  console.log(`  429s by limit: ${JSON.stringify(by((r) => (r.status === 429 ? r.limit ?? 'unnamed' : 'no-429')))}`);
  console.log(`  streams aborted by the client: ${records.filter((r) => r.streamEnd === 'aborted').length}`);
}
