import { describe, expect, it } from 'vitest';
import { auditEndpoint, renderAudit } from './audit.js';

describe('tollgate audit table', () => {
  // Regression: dollars were printed to 6 places, so a money limit spent on embeddings (20 n$ a token)
  // read 0.000000, and a counter of $0.00999802 (the dashboard's figure) read 0.009998.
  it('prints money limits to the nano-dollar, as tollgate usage and the dashboard do', () => {
    const line = (limit: string, used: number) => ({ organization: 'globex', limit, algorithm: 'fixed_window', unit: 'usd' as const, counter: used, ledger: used, drift: 0 });
    const table = renderAudit({
      atMs: Date.UTC(2026, 11, 5),
      lines: [line('org:globex:monthly', 0.00999802), line('project:embed:daily', 0.00000008)],
      drifting: 0,
      openReservations: 0,
      skippedCalls: 0,
      skippedKeys: [],
    });
    expect(table).toMatch(/^globex\s+org:globex:monthly\s+0\.009998020\s+0\.009998020\s+0\.000000000\s+usd$/m);
    expect(table).toMatch(/^globex\s+project:embed:daily\s+0\.000000080\s+0\.000000080\s+0\.000000000\s+usd$/m);
  });
});

describe('tollgate audit --url', () => {
  // Regression: `/api/audit` was appended to the text, so `http://h:4000/?x=1` asked `/` with a query ending in it.
  it('puts /api/audit under the address, behind its path prefix, without its query or fragment', () => {
    expect(auditEndpoint('http://127.0.0.1:4000')).toBe('http://127.0.0.1:4000/api/audit');
    expect(auditEndpoint('http://127.0.0.1:4000/')).toBe('http://127.0.0.1:4000/api/audit');
    expect(auditEndpoint('http://127.0.0.1:4000/?k=1#top')).toBe('http://127.0.0.1:4000/api/audit');
    expect(auditEndpoint('https://gw.example/tollgate/')).toBe('https://gw.example/tollgate/api/audit');
    expect(auditEndpoint('127.0.0.1:4000')).toBeUndefined();
    expect(auditEndpoint('ftp://gw.example/')).toBeUndefined();
  });
});
