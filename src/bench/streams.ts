// The streaming memory bench: 1,000 concurrent slow streams through a fresh gateway process, with its
// resident memory before, at peak and after. Run by `npm run bench` (after the latency phases) or on
// its own: `node dist/bench/streams.js` (BENCH_STREAMS, BENCH_STREAM_TOKENS, BENCH_STREAM_DELAY_MS).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { benchConfigYaml } from './bench-config.js';
import { spawnCli, stopAll, type CliProcess } from './children.js';
import { cpuMicros, memory } from './proc-stats.js';

/** How the streams bench runs. */
export interface StreamBenchOptions {
  streams: number;
  /** Tokens per stream (one SSE frame each). */
  tokens: number;
  /** Delay between the upstream's frames: what makes the streams slow and long-lived. */
  chunkDelayMs: number;
}

/** What the streams bench measured. */
export interface StreamBenchFigures {
  streams: number;
  tokensPerStream: number;
  chunkDelayMs: number;
  /** Streams that delivered every token and ended with [DONE]. */
  completed: number;
  /** Most streams open at once, as seen by the client. */
  peakOpen: number;
  seconds: number;
  /** Idle, after warm-up, once RSS stopped falling. */
  gatewayRssBeforeBytes: number;
  gatewayRssPeakBytes: number;
  /** Once idle again (after V8 gave memory back). */
  gatewayRssAfterBytes: number;
  /** Gateway CPU per streamed token. */
  gatewayCpuUsPerToken: number;
  /** The target: all streams at once in less than this. */
  targetRssBytes: number;
}

const TARGET_RSS = 200 * 1024 * 1024;

/** Reads BENCH_STREAMS / BENCH_STREAM_TOKENS / BENCH_STREAM_DELAY_MS. */
export function streamBenchOptions(): StreamBenchOptions {
  const num = (name: string, fallback: number): number => {
    const v = Number(process.env[name]);
    return Number.isFinite(v) && v > 0 ? v : fallback;
  };
  // Slow: 10 tokens a second each (a 2-core box cannot stream 1,000 × 50 tokens/s and stay a memory test).
  return { streams: num('BENCH_STREAMS', 1000), tokens: num('BENCH_STREAM_TOKENS', 50), chunkDelayMs: num('BENCH_STREAM_DELAY_MS', 100) };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One stream read to its end; resolves to whether every token and [DONE] arrived. */
async function oneStream(agent: Agent, gateway: string, o: StreamBenchOptions): Promise<boolean> {
  const body = JSON.stringify({
    model: 'gpt-4o',
    messages: [{ role: 'user', content: 'Stream to me slowly.' }],
    max_tokens: o.tokens,
    stream: true,
    mock_output_tokens: o.tokens,
    mock_chunk_delay_ms: o.chunkDelayMs,
  });
  const res = await request(`${gateway}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer tg-bench' },
    body,
    dispatcher: agent,
  });
  if (res.statusCode !== 200) {
    await res.body.dump();
    return false;
  }
  let rest = '';
  let tokens = 0;
  let done = false;
  for await (const chunk of res.body) {
    // Only complete frames are looked at, and only the incomplete tail is kept: the client must not grow either.
    const text = rest + chunk.toString();
    const end = text.lastIndexOf('\n\n') + 2;
    const complete = text.slice(0, end);
    tokens += (complete.match(/"content":"[^"]/g) ?? []).length;
    if (complete.includes('data: [DONE]')) done = true;
    rest = text.slice(end);
  }
  return tokens === o.tokens && done;
}

/** Runs the bench against the mock upstream at `mockUrl` with a gateway of its own. */
export async function runStreamBench(mockUrl: string, o: StreamBenchOptions = streamBenchOptions(), progress: (line: string) => void = () => {}): Promise<StreamBenchFigures> {
  const dir = mkdtempSync(join(os.tmpdir(), 'tollgate-streams-'));
  const config = join(dir, 'tollgate.yaml');
  writeFileSync(config, benchConfigYaml(mockUrl));
  let gateway: CliProcess | undefined;
  const agent = new Agent({ connections: o.streams + 16, keepAliveTimeout: 10_000 });
  try {
    gateway = await spawnCli('stream gateway', ['serve', '--config', config, '--host', '127.0.0.1', '--port', '0'], { TOLLGATE_LOG_LEVEL: 'warn' });
    const url = gateway.url;
    // Warm-up: JIT, encoders and connection pools, so "before" is the gateway's steady idle state.
    await Promise.all(Array.from({ length: 50 }, () => oneStream(agent, url, { ...o, chunkDelayMs: 0 })));
    // V8 gives memory back only after a few idle seconds (its memory reducer): wait until RSS settles.
    const before = await settledRss(gateway.pid);
    const cpu0 = cpuMicros(gateway.pid);
    let peak = before;
    let open = 0;
    let peakOpen = 0;
    const pid = gateway.pid;
    const sampler = setInterval(() => (peak = Math.max(peak, memory(pid).rss)), 50);
    progress(`streams: ${o.streams} concurrent, ${o.tokens} tokens each, ${o.chunkDelayMs} ms apart`);
    const t0 = performance.now();
    const results = await Promise.all(
      Array.from({ length: o.streams }, async () => {
        open++;
        peakOpen = Math.max(peakOpen, open);
        try {
          return await oneStream(agent, url, o);
        } catch {
          return false;
        } finally {
          open--;
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    const cpu = cpuMicros(pid) - cpu0;
    const after = await settledRss(pid);
    // The kernel's high-water mark catches spikes between samples (it also covers the smaller warm-up).
    peak = Math.max(peak, memory(pid).peakRss);
    const completed = results.filter(Boolean).length;
    return {
      streams: o.streams,
      tokensPerStream: o.tokens,
      chunkDelayMs: o.chunkDelayMs,
      completed,
      peakOpen,
      seconds,
      gatewayRssBeforeBytes: before,
      gatewayRssPeakBytes: peak,
      gatewayRssAfterBytes: after,
      gatewayCpuUsPerToken: cpu / Math.max(1, completed * o.tokens),
      targetRssBytes: TARGET_RSS,
    };
  } finally {
    await agent.close();
    if (gateway) await stopProcess(gateway.pid);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Idle RSS: V8 returns freed memory only when its memory reducer runs, some 20 s after activity stops.
 * Waits for that drop (then 3 s of calm), or 40 s at most, and answers the lowest RSS seen.
 */
async function settledRss(pid: number): Promise<number> {
  const start = memory(pid).rss;
  let low = start;
  let calm = 0;
  for (let i = 0; i < 80; i++) {
    await sleep(500);
    const now = memory(pid).rss;
    calm = now < low - 1024 * 1024 ? 0 : calm + 1;
    low = Math.min(low, now);
    if (low < start * 0.9 && calm >= 6) break;
  }
  return low;
}

/** Stops one child (the others keep running for the rest of the bench). */
async function stopProcess(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(50);
  }
  process.kill(pid, 'SIGKILL');
}

const mb = (b: number): string => `${(b / 1024 / 1024).toFixed(1)} MB`;

/** The figures as report lines. */
export function renderStreamFigures(f: StreamBenchFigures): string {
  const ok = f.gatewayRssPeakBytes < f.targetRssBytes && f.completed === f.streams;
  return [
    `Streaming: ${f.streams} concurrent slow streams (${f.tokensPerStream} tokens, ${f.chunkDelayMs} ms apart) through one gateway`,
    `  completed        ${f.completed}/${f.streams} (peak ${f.peakOpen} open at once, ${f.seconds.toFixed(1)} s)`,
    `  gateway RSS      before ${mb(f.gatewayRssBeforeBytes)}, peak ${mb(f.gatewayRssPeakBytes)}, after ${mb(f.gatewayRssAfterBytes)}`,
    `  gateway CPU      ${f.gatewayCpuUsPerToken.toFixed(1)} µs per streamed token`,
    `  target           peak < ${mb(f.targetRssBytes)}: ${ok ? 'met' : 'NOT MET'}`,
  ].join('\n');
}

// Standalone: `node dist/bench/streams.js` starts its own mock upstream.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const progress = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);
  let code = 1;
  try {
    const mock = await spawnCli('mock upstream', ['mock-upstream', '--host', '127.0.0.1', '--port', '0', '--latency-ms', '0']);
    const figures = await runStreamBench(mock.url, streamBenchOptions(), progress);
    console.log(renderStreamFigures(figures));
    console.log(JSON.stringify(figures));
    code = figures.completed === figures.streams ? 0 : 1;
  } catch (err) {
    console.error(`stream bench failed: ${(err as Error).message}`);
  } finally {
    await stopAll();
  }
  process.exit(code);
}
