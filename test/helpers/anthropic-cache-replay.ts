// A small upstream answering every request with one recorded Anthropic stream: a call that read 5,000
// input tokens from the prompt cache and wrote 3,000 (1,000 of them with a 1-hour TTL). The mock
// upstream reports no cache tokens, so tests of cache pricing answer from this.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export const CACHED_STREAM = [
  'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":2000,"cache_creation_input_tokens":3000,"cache_read_input_tokens":5000,"cache_creation":{"ephemeral_5m_input_tokens":2000,"ephemeral_1h_input_tokens":1000},"output_tokens":1,"service_tier":"standard"}}}\n\n',
  'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
  'event: ping\ndata: {"type": "ping"}\n\n',
  'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello there!"}}\n\n',
  'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
  'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":2000,"cache_creation_input_tokens":3000,"cache_read_input_tokens":5000,"output_tokens":400}}\n\n',
  'event: message_stop\ndata: {"type":"message_stop"}\n\n',
].join('');

export interface CacheReplay {
  url: string;
  close(): Promise<void>;
}

/** Starts the replaying upstream on a free local port. */
export async function startCacheReplay(): Promise<CacheReplay> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(CACHED_STREAM);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
