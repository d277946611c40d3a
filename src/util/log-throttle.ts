// One log line every few seconds for a condition that repeats per row or per call (a database down at
// 1,000 calls a second must not write 1,000 error lines a second), saying how many it stood for. Notes
// held back are logged at the end of their interval, so the count is never left unsaid.

/**
 * Returns `note(emit)`: calls `emit(count)` at once when no line was written in the last `intervalMs`,
 * `count` being the notes it covers; otherwise at the interval's end, with the latest `emit`.
 */
export function throttledLog(intervalMs: number, now: () => number = Date.now): (emit: (count: number) => void) => void {
  let last = -Infinity;
  let count = 0;
  let pending: ((count: number) => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    timer = undefined;
    if (!pending) return;
    last = now();
    const emit = pending;
    pending = undefined;
    emit(count);
    count = 0;
  };
  return (emit) => {
    count++;
    pending = emit;
    const wait = last + intervalMs - now();
    if (wait <= 0) return flush();
    if (!timer) {
      timer = setTimeout(flush, wait);
      timer.unref();
    }
  };
}
