// One log line every few seconds for a condition that repeats per row or per call (a database down at
// 1,000 calls a second must not write 1,000 error lines a second), saying how many it stood for.

/** Returns `note(emit)`: calls `emit(count)` at most once per `intervalMs`, `count` being the notes it covers. */
export function throttledLog(intervalMs: number, now: () => number = Date.now): (emit: (count: number) => void) => void {
  let last = -Infinity;
  let count = 0;
  return (emit) => {
    count++;
    if (now() - last < intervalMs) return;
    last = now();
    emit(count);
    count = 0;
  };
}
