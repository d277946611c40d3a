// What a read did to the event loop while it ran, for the tests of the ledgers' reader threads.
import { performance } from 'node:perf_hooks';

export interface EventLoopDuring {
  /** How long the read took, ms. */
  took: number;
  /** The longest a 5 ms timer waited meanwhile, ms: what a request arriving then would have waited. */
  longestGap: number;
  /** The share of the read's time the event loop was busy (0 to 1). */
  busy: number;
}

/** Runs `read`, timing it and watching the event loop. */
export async function eventLoopDuring(read: () => Promise<unknown>): Promise<EventLoopDuring> {
  let last = performance.now();
  let longestGap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longestGap = Math.max(longestGap, now - last);
    last = now;
  }, 5);
  const before = performance.eventLoopUtilization();
  const t0 = performance.now();
  try {
    await read();
  } finally {
    clearInterval(timer);
  }
  const took = performance.now() - t0;
  longestGap = Math.max(longestGap, performance.now() - last);
  return { took, longestGap, busy: performance.eventLoopUtilization(before).utilization };
}
