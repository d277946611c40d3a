// Worker thread that wakes the load generator at each scheduled send time: Atomics.wait sleeps with
// sub-millisecond precision, where setTimeout is 1 ms grained and spinning would steal a measured core.
import { parentPort, workerData } from 'node:worker_threads';

/** What the open loop hands the ticker: send i is due at startNs + i * intervalNs (process.hrtime clock). */
export interface TickerPlan {
  startNs: number;
  intervalNs: number;
  total: number;
}

const { startNs, intervalNs, total } = workerData as TickerPlan;
const cell = new Int32Array(new SharedArrayBuffer(4));
const nowNs = (): number => Number(process.hrtime.bigint());

for (let i = 0; i < total; i++) {
  const waitMs = (startNs + i * intervalNs - nowNs()) / 1e6;
  // Nobody ever notifies `cell`, so this is a plain high-resolution sleep.
  if (waitMs > 0) Atomics.wait(cell, 0, 0, waitMs);
  parentPort!.postMessage(i);
}
