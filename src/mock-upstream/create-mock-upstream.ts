// The standalone mock LLM upstream on plain node:http: lean on purpose, since benchmarks use it as the
// no-gateway baseline. It speaks OpenAI and Anthropic (see providers/mock), checks the provider key
// when given one, and records what it received for tests running in other processes.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  anthropicError,
  flavorOfPath,
  handleMockRequest,
  normalizeMockPath,
  MockStoredObjects,
  openAiError,
  touchesStoredObjects,
  type MockOptions,
  type MockReply,
} from '../providers/mock/index.js';
import { RequestLog, requestLogJson, type RecordedRequest } from './request-log.js';
import { writeMockReply } from './write-reply.js';
import { nameNonStandardStatuses } from '../util/status-reasons.js';
import { DEFAULT_MOCK_LATENCY_MS, DEFAULT_MOCK_OUTPUT_TOKENS } from './defaults.js';

/**
 * Mock behaviour plus the provider key to demand (none: any or no key is accepted); latency and output
 * length default as the `tollgate mock-upstream` flags do.
 */
export interface MockUpstreamOptions extends Partial<MockOptions> {
  apiKey?: string;
}

/** A running (or ready to run) mock upstream. */
export interface MockUpstream {
  /** Starts listening; resolves to the base URL, e.g. `http://127.0.0.1:4010` (port 0 picks a free one). */
  listen(port: number, host: string): Promise<string>;
  /** Stops accepting, drops open connections (streams included) and resolves once closed. */
  close(): Promise<void>;
  /** The last 1000 requests, oldest first. */
  requests(): RecordedRequest[];
  /** Forgets the recorded requests. */
  clearRequests(): void;
}

const RECORDED = 1000;
// The request sizes each API takes: Anthropic's Messages API 32 MB (its `request_too_large` 413 above);
// OpenAI up to 50 MB of images or files per request, base64-encoded, and the text around them.
const MAX_BODY_BYTES = { anthropic: 32 * 1024 * 1024, openai: 80 * 1024 * 1024 } as const;
const CONTROL_PATH = '/__mock/requests';

const NO_KEY_MESSAGE =
  "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth " +
  '(i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from https://platform.openai.com/account/api-keys.';

const BAD_JSON_MESSAGE =
  'We could not parse the JSON body of your request. (HINT: This likely means you aren\'t using your HTTP library ' +
  'correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)';

// Shows only the ends of a wrong key, as OpenAI's own message does.
function maskKey(key: string): string {
  return key.length <= 8 ? '***' : key.slice(0, 3) + '*'.repeat(Math.min(key.length - 7, 40)) + key.slice(-4);
}

function bearerToken(auth: string | undefined): string | undefined {
  const match = auth === undefined ? null : /^Bearer\s+(.+)$/i.exec(auth.trim());
  return match ? match[1] : undefined;
}

// Returns the 401 to send, or undefined when the request carries the expected key.
function checkKey(req: IncomingMessage, path: string, apiKey: string): MockReply | undefined {
  if (flavorOfPath(path) === 'anthropic') {
    // The key as x-api-key or, as the SDKs send it since API version 2026-10-21, a bearer token; x-api-key first.
    const got = req.headers['x-api-key'] ?? bearerToken(req.headers.authorization);
    if (got === apiKey) return undefined;
    return anthropicError(401, got === undefined ? 'x-api-key header is required' : 'invalid x-api-key');
  }
  const auth = req.headers.authorization;
  const match = auth === undefined ? null : /^Bearer\s+(.+)$/i.exec(auth.trim());
  if (match && match[1] === apiKey) return undefined;
  if (!match) return openAiError(401, NO_KEY_MESSAGE, { code: null });
  return openAiError(401, `Incorrect API key provided: ${maskKey(match[1]!)}. You can find your API key at https://platform.openai.com/account/api-keys.`);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

// The recorded requests, or a 500 saying why they could not be written: a request handler that throws
// ends the process, and the mock must outlive whatever a test sends it.
function sendLog(res: ServerResponse, requests: RecordedRequest[]): void {
  let body: string;
  try {
    body = requestLogJson(requests);
  } catch (err) {
    return sendJson(res, 500, { error: { message: `The recorded requests could not be written as JSON: ${(err as Error).message}`, type: 'server_error', param: null, code: null } });
  }
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function formatUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Creates the mock upstream server (not yet listening). */
export function createMockUpstream(opts: MockUpstreamOptions = {}): MockUpstream {
  nameNonStandardStatuses(); // its 529 is Anthropic's "Overloaded", as the gateway's is
  const log = new RequestLog(RECORDED);
  const { apiKey, latencyMs = DEFAULT_MOCK_LATENCY_MS, outputTokens = DEFAULT_MOCK_OUTPUT_TOKENS, ...rest } = opts;
  const mockOptions: MockOptions = { ...rest, latencyMs, outputTokens };
  const stored = new MockStoredObjects();

  function respond(req: IncomingMessage, res: ServerResponse, raw: Buffer | undefined): void {
    const url = req.url ?? '/';
    const path = normalizeMockPath(url);
    const method = req.method ?? 'GET';
    const text = raw === undefined ? '' : raw.toString('utf8');
    let body: unknown;
    let badJson = false;
    if (text.length > 0) {
      try {
        body = JSON.parse(text);
      } catch {
        badJson = true;
      }
    }
    log.add({ method, path, url, headers: req.headers, body: badJson ? text : text.length === 0 ? null : body, text, receivedAt: new Date().toISOString() });
    let reply: MockReply | undefined = apiKey === undefined ? undefined : checkKey(req, path, apiKey);
    if (reply === undefined && badJson) {
      reply = flavorOfPath(path) === 'anthropic'
        ? anthropicError(400, 'There was an issue with your request. The body could not be parsed as JSON.')
        : openAiError(400, BAD_JSON_MESSAGE);
    }
    const storedPath = touchesStoredObjects(path);
    if (reply === undefined && storedPath) reply = stored.answer(method, url, body, mockOptions);
    if (reply === undefined) {
      reply = handleMockRequest(method, url, body, mockOptions, req.headers);
      if (storedPath && method === 'POST') reply = stored.remember(body, reply);
    }
    void writeMockReply(res, reply);
  }

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = normalizeMockPath(req.url ?? '/');
    if (path === CONTROL_PATH) {
      req.resume();
      if (req.method === 'GET') return sendLog(res, log.list());
      if (req.method === 'DELETE') {
        log.clear();
        res.writeHead(204).end();
        return;
      }
      return sendJson(res, 405, { error: { message: `Use GET or DELETE on ${CONTROL_PATH}.`, type: 'invalid_request_error', param: null, code: null } });
    }
    // Event listeners rather than async iteration: this is the benchmark baseline's hot path.
    let first: Buffer | undefined;
    let chunks: Buffer[] | undefined;
    let size = 0;
    const flavor = flavorOfPath(path);
    const maxBytes = MAX_BODY_BYTES[flavor];
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        if (!res.headersSent) {
          if (flavor === 'anthropic') void writeMockReply(res, anthropicError(413));
          else sendJson(res, 413, { error: { message: 'Request body too large.', type: 'invalid_request_error', param: null, code: null } });
        }
        req.destroy();
        return;
      }
      if (first === undefined) first = chunk;
      else (chunks ??= [first]).push(chunk);
    });
    req.on('end', () => {
      if (size > maxBytes) return;
      try {
        respond(req, res, chunks ? Buffer.concat(chunks, size) : first);
      } catch (err) {
        // A request the mock has no answer for is a 500 to that request, not the end of the server
        // every test and benchmark shares.
        if (res.headersSent) res.destroy();
        else if (flavor === 'anthropic') void writeMockReply(res, anthropicError(500));
        else sendJson(res, 500, { error: { message: `The mock upstream failed: ${(err as Error).message}`, type: 'server_error', param: null, code: null } });
      }
    });
  }

  const server = createServer(onRequest);
  // Keep idle connections well past typical client pool timeouts so keep-alive actually gets reused.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  return {
    listen(port: number, host: string): Promise<string> {
      return new Promise((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          resolve(formatUrl(host, (server.address() as AddressInfo).port));
        });
      });
    },
    close(): Promise<void> {
      return new Promise((resolve, reject) => {
        if (!server.listening) return resolve();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
    },
    requests: () => log.list(),
    clearRequests: () => log.clear(),
  };
}
