// A small upstream in the test process, for API behaviour the mock upstream does not model: `answer` gets
// each request once its body has been read, and writes the provider's wire format itself.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';

export interface WireUpstream {
  /** The `/v1` base URL to configure as the provider's `base_url`. */
  url: string;
  close(): Promise<void>;
}

export function startWireUpstream(answer: (req: IncomingMessage, res: ServerResponse, raw: string) => void): Promise<WireUpstream> {
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => answer(req, res, raw));
  });
  const close = (): Promise<void> => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  };
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, close })));
}

/** Writes `frames` one at a time, `everyMs` apart, the first after `firstAfterMs`; ends the response after the last. Stops when the client has gone. */
export function writePaced(res: ServerResponse, frames: readonly string[], everyMs: number, firstAfterMs = 0): void {
  let i = 0;
  const next = (): void => {
    if (res.destroyed) return;
    if (i === frames.length) return void res.end();
    res.write(frames[i++]);
    setTimeout(next, everyMs);
  };
  setTimeout(next, firstAfterMs);
}

/** 'ok' for a call that succeeded, '429' for the SDK's RateLimitError, else the error itself. */
export function okOr429(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    () => 'ok',
    (e: unknown) => (e instanceof OpenAI.RateLimitError ? '429' : e),
  );
}

/**
 * A Responses API response object as OpenAI answers it, for a request `body`: a one-message answer
 * ("Done.") once `status` is `completed`, no output before.
 */
export function responseObject(id: string, body: Record<string, unknown>, status: string, usage: object | null): Record<string, unknown> {
  return {
    id,
    object: 'response',
    created_at: 1760000000,
    status,
    background: body.background === true,
    error: null,
    incomplete_details: null,
    instructions: null,
    max_output_tokens: body.max_output_tokens ?? null,
    model: body.model,
    output: status === 'completed' ? [{ id: `msg_${id}`, type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'Done.', annotations: [] }] }] : [],
    parallel_tool_calls: true,
    previous_response_id: null,
    store: true,
    temperature: 1,
    text: { format: { type: 'text' } },
    tool_choice: 'auto',
    tools: body.tools ?? [],
    top_p: 1,
    truncation: 'disabled',
    usage,
    metadata: {},
  };
}
