// GET /v1/models and GET /v1/models/{id} as Anthropic answers them (asked with `anthropic-version`, as its
// SDK always does): ModelInfo objects, newest first, paged by limit / after_id / before_id. The figures are
// the published ones (each model's output and context limits); what the mock cannot vouch for, the
// capabilities, is null, as the API has it for an unknown value.
import { anthropicPage } from '../../util/anthropic-page.js';
import { anthropicError } from './mock-errors.js';
import { mockRequestId } from './mock-ids.js';
import type { MockReply } from './types.js';

type Line = 'haiku' | 'sonnet' | 'opus';

const model = (id: string, displayName: string, released: string, line: Line, maxTokens: number) => ({
  type: 'model' as const,
  id,
  display_name: displayName,
  created_at: `${released}T00:00:00Z`,
  capabilities: null,
  max_input_tokens: 200_000,
  max_tokens: maxTokens,
  lifecycle: 'active' as const,
  deprecated_at: null,
  retires_at: null,
  line,
});

/** The Claude models the mock lists, most recently released first (as the API lists them). */
export const MOCK_ANTHROPIC_MODELS = [
  model('claude-haiku-4-5-20251001', 'Claude Haiku 4.5', '2025-10-15', 'haiku', 64_000),
  model('claude-sonnet-4-5-20250929', 'Claude Sonnet 4.5', '2025-09-29', 'sonnet', 64_000),
  model('claude-opus-4-1-20250805', 'Claude Opus 4.1', '2025-08-05', 'opus', 32_000),
  model('claude-sonnet-4-20250514', 'Claude Sonnet 4', '2025-05-22', 'sonnet', 64_000),
  model('claude-3-5-haiku-20241022', 'Claude Haiku 3.5', '2024-10-22', 'haiku', 8_192),
];

/** The most `max_tokens` a listed model takes; undefined for a name the mock does not list. */
export function outputLimitOf(model: unknown): number | undefined {
  return MOCK_ANTHROPIC_MODELS.find((m) => m.id === model)?.max_tokens;
}

function json(value: unknown, latencyMs: number): MockReply {
  const requestId = mockRequestId();
  return { kind: 'json', status: 200, headers: { 'content-type': 'application/json', 'request-id': requestId }, latencyMs, body: JSON.stringify(value) };
}

/** Answers GET /v1/models?query: one page of `{data, has_more, first_id, last_id}`, or the 400 for a bad limit. */
export function mockAnthropicListModels(query: URLSearchParams, latencyMs: number): MockReply {
  const page = anthropicPage(MOCK_ANTHROPIC_MODELS, Object.fromEntries(query));
  if ('refused' in page) return anthropicError(400, page.refused, latencyMs);
  return json(page, latencyMs);
}

/** Answers GET /v1/models/{id}: the ModelInfo, or Anthropic's 404 `model: <id>`. */
export function mockAnthropicRetrieveModel(id: string, latencyMs: number): MockReply {
  const found = MOCK_ANTHROPIC_MODELS.find((m) => m.id === id);
  return found ? json(found, latencyMs) : anthropicError(404, `model: ${id}`, latencyMs);
}
