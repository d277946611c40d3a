// Anthropic's server tools run inside the provider during the call: web search and web fetch put what they
// found into the context, code execution its output, the MCP connector the remote tools' results. All of
// it is billed as input tokens (web search results "are counted as input tokens"), none of it is in the
// request body, so the body's estimate can be a small fraction of the billed input (one web search turn
// commonly reads tens of thousands of tokens). Such calls reserve an allowance for it, as /v1/responses
// calls do for stored context.
import { DEFAULT_TOOL_CALLS, type JsonObject, type ToolCalls } from '../usage.js';

// Versioned type names: `web_search_20250305`, `web_fetch_20250910`, `code_execution_20250825`, ...
const SERVER_TOOL = /^(web_search|web_fetch|code_execution|tool_search_tool)_/;

/** Whether a Messages body lets the provider bring input into the call that the body does not show. */
export function bringsServerToolInput(body: JsonObject): boolean {
  if (Array.isArray(body.mcp_servers) && body.mcp_servers.length > 0) return true;
  if (!Array.isArray(body.tools)) return false;
  return body.tools.some((t) => {
    const type = (t as JsonObject | null)?.type;
    return typeof type === 'string' && SERVER_TOOL.test(type);
  });
}

/**
 * Web searches a call may make when a money limit holds it to account for their fee: each web search
 * tool's `max_uses`, else DEFAULT_TOOL_CALLS (Anthropic sets no cap of its own, so a call without one is
 * reserved a bound it could pass; `max_uses` makes the reservation exact). Undefined without the tool.
 */
export function webSearchBound(body: JsonObject): ToolCalls | undefined {
  if (!Array.isArray(body.tools)) return undefined;
  let searches = 0;
  for (const t of body.tools) {
    const tool = t as JsonObject | null;
    if (typeof tool?.type !== 'string' || !tool.type.startsWith('web_search_')) continue;
    const max = tool.max_uses;
    searches += typeof max === 'number' && Number.isInteger(max) && max > 0 ? max : DEFAULT_TOOL_CALLS;
  }
  return searches > 0 ? { web_search: searches } : undefined;
}
