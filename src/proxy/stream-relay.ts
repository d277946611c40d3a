// Passes an upstream SSE stream to the client chunk by chunk, reading usage on the way.
import type { ServerResponse } from 'node:http';
import { once } from 'node:events';
import { SseParser } from '../providers/sse/index.js';
import { countTextTokens } from '../tokens/index.js';
import { chunkText, openAIUsage, type Usage } from './usage.js';
import type { JsonObject } from './request-shape.js';

export interface RelayOptions {
  /** The client asked for the usage chunk; if not, Tollgate asked for it and removes it again. */
  clientWantsUsage: boolean;
  /** Model used to count streamed text when the upstream reports no usage. */
  countModel: string;
  /** Input tokens to charge when the upstream reports no usage. */
  inputFallback: () => number;
}

export interface RelayResult {
  usage: Usage;
  /** How the stream ended. */
  outcome: 'complete' | 'client_gone' | 'upstream_failed';
}

/** Writes the upstream stream to `res` without buffering; resolves with the usage to settle. */
export async function relayStream(body: AsyncIterable<Uint8Array>, res: ServerResponse, opts: RelayOptions): Promise<RelayResult> {
  const parser = new SseParser();
  let usage: Usage | undefined;
  // Raw data of content chunks, kept only to count tokens if the upstream never reports usage.
  const contentData: string[] = [];
  let outcome: RelayResult['outcome'] = 'complete';

  try {
    for await (const chunk of body) {
      if (res.destroyed) {
        outcome = 'client_gone';
        break;
      }
      const events = parser.push(chunk);
      let out: string | Uint8Array = chunk;
      let rewritten = '';
      let dropped = false;
      for (const ev of events) {
        // Cheap substring test first: only the last chunk carries a usage object.
        if (ev.data.includes('"usage":{') || ev.data.includes('"usage": {')) {
          const parsed = safeParse(ev.data);
          const found = parsed && openAIUsage(parsed.usage);
          if (found) {
            usage = found;
            const choices = parsed.choices;
            if (!opts.clientWantsUsage && Array.isArray(choices) && choices.length === 0) {
              dropped = true;
              continue;
            }
          }
        } else if (ev.data !== '[DONE]') {
          contentData.push(ev.data);
        }
        rewritten += ev.event ? `event: ${ev.event}\ndata: ${ev.data}\n\n` : `data: ${ev.data}\n\n`;
      }
      // Pass bytes through untouched unless an event had to be removed.
      if (dropped) out = rewritten;
      if (out.length > 0 && !res.write(out)) await once(res, 'drain');
    }
  } catch (err) {
    outcome = res.destroyed ? 'client_gone' : 'upstream_failed';
    if (outcome === 'upstream_failed' && !res.destroyed) {
      const error = { error: { message: `The upstream stream failed: ${(err as Error).message}`, type: 'upstream_error', param: null, code: 'upstream_error' } };
      res.write(`data: ${JSON.stringify(error)}\n\n`);
    }
  }
  if (!res.destroyed) res.end();
  return { usage: usage ?? estimatedUsage(contentData, opts), outcome };
}

/** Counts the streamed text ourselves; never below what was delivered. */
function estimatedUsage(contentData: string[], opts: RelayOptions): Usage {
  let text = '';
  for (const data of contentData) {
    const parsed = safeParse(data);
    if (parsed) text += chunkText(parsed);
  }
  return { input: opts.inputFallback(), output: countTextTokens(text, opts.countModel), cachedInput: 0, source: 'estimated' };
}

function safeParse(data: string): JsonObject | undefined {
  try {
    const v = JSON.parse(data);
    return typeof v === 'object' && v !== null ? (v as JsonObject) : undefined;
  } catch {
    return undefined;
  }
}
