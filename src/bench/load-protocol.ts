// Messages between the bench orchestrator and its load-generator child process (over the fork IPC channel).
import type { LatencySummary } from './stats.js';

/** Where and what to send: one fixed request, repeated. */
export interface LoadTarget {
  origin: string;
  path: string;
  authorization: string;
  body: string;
}

/** Fixed-rate schedule, latency measured from each request's scheduled send time. */
export interface OpenLoopJob {
  kind: 'open';
  target: LoadTarget;
  rate: number;
  seconds: number;
}

/** `concurrency` back-to-back request loops, until `seconds` pass or `maxRequests` have been started. */
export interface ClosedLoopJob {
  kind: 'closed';
  target: LoadTarget;
  concurrency: number;
  seconds: number;
  maxRequests?: number;
}

export type LoadJob = OpenLoopJob | ClosedLoopJob;

/** What a job measured, as seen by the client. */
export interface LoadResult {
  kind: LoadJob['kind'];
  sent: number;
  completed: number;
  ok: number;
  errors: number;
  elapsedSec: number;
  achievedRps: number;
  latency: LatencySummary;
  /** Open loop only: how late the timer actually started requests (ms), which is part of `latency`. */
  sendLag?: LatencySummary;
  /** The worker's own CPU use during the job, µs. */
  workerCpuUs: number;
  firstError?: string;
}

export type WorkerRequest = { id: number; job: LoadJob };
export type WorkerReply = { id: number; result?: LoadResult; error?: string };
