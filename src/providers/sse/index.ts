// Server-sent events: the incremental parser used on every streamed response, and the matching encoder.
export { SseParser } from './sse-parser.js';
export type { SseEvent, SseParserOptions } from './sse-parser.js';
export { encodeSseEvent } from './encode-sse-event.js';
export type { SseEventInit } from './encode-sse-event.js';
export { SseFramer, MAX_FRAME_BYTES } from './sse-framer.js';
export type { Frames } from './sse-framer.js';
