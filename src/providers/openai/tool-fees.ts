// OpenAI's Responses API bills some built-in tools per call besides the tokens their results bring in:
// web search (one `web_search_call` output item per call) and file search (one `file_search_call` item
// per call). The usage object does not count them; the answer's output items do. Which price a web search
// call has depends on the tool version and the model (list-prices.ts TOOL_CALL_PRICES): read here from the
// request, so the answer's items need only be counted. Code interpreter is billed by container time,
// which no answer reports, and is left out.
import { DEFAULT_TOOL_CALLS, type JsonObject, type ToolCalls, type ToolKind } from '../usage.js';

/** The fee kinds a Responses call's calls are billed as: by output item type. */
export interface BilledTools {
  /** `web_search_call` items: `web_search`, or `web_search_preview` (the preview tool on a non-reasoning model). */
  webSearch?: ToolKind;
  /** `file_search_call` items. */
  fileSearch?: boolean;
}

/** The per-call-billed tools a Responses body offers the model, or undefined for none (most calls). */
export function billedTools(body: JsonObject, reasoningModel: boolean): BilledTools | undefined {
  if (!Array.isArray(body.tools)) return undefined;
  let out: BilledTools | undefined;
  for (const t of body.tools) {
    const type = (t as JsonObject | null)?.type;
    if (typeof type !== 'string') continue;
    if (type === 'file_search') (out ??= {}).fileSearch = true;
    else if (type.startsWith('web_search')) {
      // Of the two versions, the preview on a non-reasoning model is the dearer: it wins when both are offered.
      const kind: ToolKind = type.startsWith('web_search_preview') && !reasoningModel ? 'web_search_preview' : 'web_search';
      if ((out ??= {}).webSearch !== 'web_search_preview') out.webSearch = kind;
    }
  }
  return out;
}

/**
 * The most billed calls a Responses call may make, for its reservation: `max_tool_calls` (which caps all
 * built-in tool calls together) of each kind offered, else DEFAULT_TOOL_CALLS of each.
 */
export function toolCallBound(body: JsonObject, tools: BilledTools): ToolCalls {
  const max = body.max_tool_calls;
  const n = typeof max === 'number' && Number.isInteger(max) && max > 0 ? max : DEFAULT_TOOL_CALLS;
  const out: ToolCalls = {};
  if (tools.webSearch) out[tools.webSearch] = n;
  if (tools.fileSearch) out.file_search = n;
  return out;
}

/** Billed calls among a response's output items (`response.output`), or undefined for none. */
export function toolCallsIn(output: unknown, tools: BilledTools): ToolCalls | undefined {
  if (!Array.isArray(output)) return undefined;
  let web = 0;
  let file = 0;
  for (const item of output) {
    const type = (item as JsonObject | null)?.type;
    if (type === 'web_search_call') web++;
    else if (type === 'file_search_call') file++;
  }
  return counted(web, file, tools);
}

// Inside JSON strings quotes are escaped, so an unescaped `"type": "web_search_call"` is an item's type.
const CALL_ITEM = /"type"\s*:\s*"(web_search_call|file_search_call)"/g;

/** Billed calls in a non-streamed Responses body, counted from its text without parsing it. */
export function toolCallsInBody(raw: Buffer, tools: BilledTools): ToolCalls | undefined {
  let web = 0;
  let file = 0;
  for (const m of raw.toString('latin1').matchAll(CALL_ITEM)) {
    if (m[1] === 'web_search_call') web++;
    else file++;
  }
  return counted(web, file, tools);
}

function counted(web: number, file: number, tools: BilledTools): ToolCalls | undefined {
  if (web === 0 && file === 0) return undefined;
  const out: ToolCalls = {};
  // A call of a tool the request did not offer (it cannot happen) is priced as the GA web search.
  if (web > 0) out[tools.webSearch ?? 'web_search'] = web;
  if (file > 0) out.file_search = file;
  return out;
}
