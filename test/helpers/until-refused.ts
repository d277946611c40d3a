// Calls against a limit, one after another, until it refuses one.

/**
 * POSTs `body` as JSON to `url` + `path` with the key `tg-a` (and `headers`), one call after another, until
 * one is refused with a 429 or 40 were sent; returns their statuses, in order.
 */
export async function postUntilRefused(url: string, path: string, headers: Record<string, string>, body: unknown): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < 40 && !statuses.includes(429); i++) {
    const res = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer tg-a', ...headers },
      body: JSON.stringify(body),
    });
    await res.arrayBuffer();
    statuses.push(res.status);
  }
  return statuses;
}
