// A promise raced against a deadline: for waits on a database or a peer that may never answer (a frozen
// connection sends no error). The work itself is not cancelled; its late result is ignored.

/** `p`, or a rejection with `message` once `ms` have passed without an answer. */
export function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), Math.max(0, ms))));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
