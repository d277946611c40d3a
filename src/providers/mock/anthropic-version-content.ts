// Content that API version 2026-10-21 refuses on the Messages API and token counting, as Anthropic does
// (platform.claude.com/docs/en/api/migration-2026-10-21): a document block placed directly in an assistant
// message, and a text block in a user message with non-empty `citations` (empty or null still pass, and the
// citations on the assistant's own text, which clients echo back, are untouched). The guide names the
// rules, not the text of the 400: these messages are the mock's, in the API's `messages.<i>.content.<j>` form.

type JsonObject = Record<string, unknown>;
const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The 400 message for the first block of `messages` that 2026-10-21 refuses, or undefined. */
export function refusedContent(messages: unknown): string | undefined {
  if (!Array.isArray(messages)) return undefined;
  for (const [i, message] of messages.entries()) {
    if (!isObject(message) || !Array.isArray(message.content)) continue;
    for (const [j, block] of (message.content as unknown[]).entries()) {
      if (!isObject(block)) continue;
      if (message.role === 'assistant' && block.type === 'document') {
        return `messages.${i}.content.${j}: document blocks are not permitted in assistant messages; send the document in a user message`;
      }
      if (message.role === 'user' && block.type === 'text' && Array.isArray(block.citations) && block.citations.length > 0) {
        return `messages.${i}.content.${j}.citations: citations are not permitted on text blocks in user messages`;
      }
    }
  }
  return undefined;
}
