import { describe, expect, it } from 'vitest';
import { readAuditAnswer } from './audit-answer.js';

describe('the audit answer', () => {
  it('keeps every field the gateway sent, which --format json prints: a line\'s algorithm, a newer gateway\'s additions', async () => {
    const sent = {
      atMs: 1,
      lines: [{ organization: 'acme', limit: 'route:r:output', algorithm: 'token_bucket', unit: 'tokens', counter: 100, ledger: 100, drift: 0 }],
      drifting: 0,
      openReservations: 0,
      skippedCalls: 0,
      skippedKeys: [],
      fromANewerGateway: { x: 1 },
    };
    const answer = await readAuditAnswer(new Response(JSON.stringify(sent), { headers: { 'content-type': 'application/json' } }), 'http://gw/api/audit');
    expect(answer).toEqual({ report: sent });
  });
});
