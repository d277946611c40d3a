// The standalone mock upstream server (`tollgate mock-upstream`), for tests, benchmarks and the quick start.
export { createMockUpstream } from './create-mock-upstream.js';
export type { MockUpstream, MockUpstreamOptions } from './create-mock-upstream.js';
export { RequestLog } from './request-log.js';
export type { RecordedRequest } from './request-log.js';
export { writeMockReply } from './write-reply.js';
