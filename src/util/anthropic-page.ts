// One page of a list as Anthropic's API pages its lists (GET /v1/models): `limit` (1-1000, default 20)
// items after `after_id`, or the last ones before `before_id`; `has_more` says whether more lie that way.
// Shared by the gateway's model list and the mock upstream's, which must page alike.

export interface AnthropicPage<T> {
  data: T[];
  has_more: boolean;
  first_id: string | null;
  last_id: string | null;
}

/** The page `query` asks for, or the API's message for a `limit` it refuses. */
export function anthropicPage<T extends { id: string }>(all: T[], query: Record<string, unknown>): AnthropicPage<T> | { refused: string } {
  const limit = query.limit === undefined ? 20 : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return { refused: 'limit: Input should be a whole number from 1 to 1000.' };
  const indexOf = (id: unknown): number => all.findIndex((m) => m.id === id);
  let data: T[];
  let hasMore: boolean;
  if (query.before_id !== undefined && query.after_id === undefined) {
    const end = Math.max(0, indexOf(query.before_id));
    data = all.slice(Math.max(0, end - limit), end);
    hasMore = end - limit > 0;
  } else {
    const start = query.after_id === undefined ? 0 : indexOf(query.after_id) + 1;
    data = all.slice(start, start + limit);
    hasMore = start + limit < all.length;
  }
  return { data, has_more: hasMore, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
}
