// The two load shapes: a fixed-rate open loop (no coordinated omission) and a closed loop for saturation.
import { Worker } from 'node:worker_threads';
import type { Dispatcher } from 'undici';
import type { ClosedLoopJob, LoadResult, LoadTarget, OpenLoopJob } from './load-protocol.js';
import type { TickerPlan } from './schedule-ticker.js';
import { SampleBuffer, summarize } from './stats.js';

const TICKER = new URL('./schedule-ticker.js', import.meta.url);

const nowNs = (): number => Number(process.hrtime.bigint());
const NS_PER_MS = 1e6;
// A request still unanswered this long after the schedule ends is counted as an error.
const DRAIN_TIMEOUT_MS = 15_000;

interface Outcome {
  ok: boolean;
  error?: string;
}

/** Sends one request and reads the whole body, so latency covers the full response. */
async function send(pool: Dispatcher, t: LoadTarget): Promise<Outcome> {
  try {
    const res = await pool.request({
      path: t.path,
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: t.authorization },
      body: t.body,
    });
    if (res.statusCode === 200) {
      await res.body.dump();
      return { ok: true };
    }
    const text = await res.body.text();
    return { ok: false, error: `HTTP ${res.statusCode}: ${text.slice(0, 300)}` };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

function cpuUs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return d.user + d.system;
}

/** Starts request i at start + i/rate, whether or not earlier ones have answered. */
export function runOpenLoop(pool: Dispatcher, job: OpenLoopJob): Promise<LoadResult> {
  const total = Math.max(1, Math.round(job.rate * job.seconds));
  const intervalNs = 1e9 / job.rate;
  const latency = new Float64Array(total);
  const lag = new Float64Array(total);
  const cpu0 = process.cpuUsage();
  // Starting a few ms ahead leaves time for the ticker thread to boot.
  const start = nowNs() + 20 * NS_PER_MS;
  let sent = 0;
  let completed = 0;
  let ok = 0;
  let lastDone = start;
  let firstError: string | undefined;

  return new Promise((resolve) => {
    let drainTimer: NodeJS.Timeout | undefined;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(drainTimer);
      void ticker.terminate();
      const errors = total - ok;
      if (completed < total) firstError ??= `${total - completed} requests unanswered ${DRAIN_TIMEOUT_MS} ms after the schedule ended`;
      const elapsedSec = (lastDone - start) / 1e9;
      resolve({
        kind: 'open',
        sent,
        completed,
        ok,
        errors,
        elapsedSec,
        achievedRps: completed / elapsedSec,
        latency: summarize(latency, completed),
        sendLag: summarize(lag, sent),
        workerCpuUs: cpuUs(cpu0),
        firstError,
      });
    };

    const issue = (scheduled: number): void => {
      void send(pool, job.target).then((o) => {
        const t = nowNs();
        // Measured from the scheduled time, so a stalled server is charged for every request it delayed.
        latency[completed++] = (t - scheduled) / NS_PER_MS;
        lastDone = t;
        if (o.ok) ok++;
        else firstError ??= o.error;
        if (completed === total) finish();
      });
    };

    // Each wake-up sends every request that is due, so a late wake-up catches up in one batch.
    const tick = (): void => {
      const t = nowNs();
      while (sent < total) {
        const scheduled = start + sent * intervalNs;
        if (scheduled > t) break;
        lag[sent++] = (t - scheduled) / NS_PER_MS;
        issue(scheduled);
      }
      if (sent === total && !drainTimer) {
        drainTimer = setTimeout(finish, DRAIN_TIMEOUT_MS);
      }
    };
    const ticker = new Worker(TICKER, { workerData: { startNs: start, intervalNs, total } satisfies TickerPlan });
    ticker.on('message', tick);
    ticker.on('error', (err) => {
      firstError ??= `schedule ticker failed: ${err.message}`;
      finish();
    });
  });
}

/** Runs `concurrency` request loops back to back; throughput is what the server sustains. */
export async function runClosedLoop(pool: Dispatcher, job: ClosedLoopJob): Promise<LoadResult> {
  const latency = new SampleBuffer();
  const cpu0 = process.cpuUsage();
  const start = nowNs();
  const deadline = start + job.seconds * 1e9;
  const max = job.maxRequests ?? Infinity;
  let sent = 0;
  let ok = 0;
  let firstError: string | undefined;

  const loop = async (): Promise<void> => {
    while (sent < max && nowNs() < deadline) {
      sent++;
      const t0 = nowNs();
      const o = await send(pool, job.target);
      latency.push((nowNs() - t0) / NS_PER_MS);
      if (o.ok) ok++;
      else firstError ??= o.error;
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, loop));
  const elapsedSec = (nowNs() - start) / 1e9;
  return {
    kind: 'closed',
    sent,
    completed: latency.length,
    ok,
    errors: latency.length - ok,
    elapsedSec,
    achievedRps: latency.length / elapsedSec,
    latency: latency.summary(),
    workerCpuUs: cpuUs(cpu0),
    firstError,
  };
}
