import type { Command } from 'commander';
import { DEFAULT_MOCK_LATENCY_MS, DEFAULT_MOCK_OUTPUT_TOKENS } from '../mock-upstream/defaults.js';
import { listenFailure } from '../server/listen-failure.js';
import { MAX_DELAY_MS, parseHost, parsePort, wholeNumberOption } from './listen-options.js';

interface MockUpstreamFlags {
  host: string;
  port: number;
  latencyMs: number;
  outputTokens: number;
  chunkDelayMs: number;
  apiKey?: string;
}

/** Registers `tollgate mock-upstream`: serves the OpenAI- and Anthropic-shaped mock LLM until SIGTERM/SIGINT. */
export function registerMockUpstream(program: Command): void {
  program
    .command('mock-upstream')
    .description('serve a mock LLM upstream (OpenAI and Anthropic wire formats, streaming)')
    .option('--host <host>', 'address to bind', parseHost, '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 = any free port)', parsePort, 4010)
    .option('--latency-ms <ms>', 'delay before each response starts', wholeNumberOption('--latency-ms', MAX_DELAY_MS), DEFAULT_MOCK_LATENCY_MS)
    .option('--output-tokens <n>', 'completion length when the request does not cap it', wholeNumberOption('--output-tokens'), DEFAULT_MOCK_OUTPUT_TOKENS)
    .option('--chunk-delay-ms <ms>', 'delay between streamed chunks', wholeNumberOption('--chunk-delay-ms', MAX_DELAY_MS), 0)
    .option('--api-key <key>', 'require this key (Authorization: Bearer for OpenAI paths, x-api-key for Anthropic)')
    .action(async (flags: MockUpstreamFlags) => {
      // Loaded when the command runs, so that the other commands do not wait for it.
      const { createMockUpstream } = await import('../mock-upstream/index.js');
      const upstream = createMockUpstream({
        latencyMs: flags.latencyMs,
        outputTokens: flags.outputTokens,
        chunkDelayMs: flags.chunkDelayMs,
        apiKey: flags.apiKey,
      });
      const url = await upstream.listen(flags.port, flags.host).catch((err: unknown) => {
        const message = listenFailure(err, flags.host, flags.port);
        if (message === undefined) throw err;
        console.error(`tollgate mock-upstream: ${message}`);
        return process.exit(1);
      });
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        upstream.close().then(
          () => process.exit(0),
          (err: unknown) => {
            console.error('tollgate mock-upstream: error while closing:', err);
            process.exit(1);
          },
        );
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      // Scripts wait for this exact phrase (SPEC §8), so it is printed once and only when ready.
      console.log(`tollgate mock-upstream listening on ${url}`);
    });
}
