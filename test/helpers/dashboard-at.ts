// The dashboard JSON of a gateway started at `now` on a new ledger holding `seeded`: for tests of what it
// reports at a given moment. The gateway and the ledger are gone afterwards.
import { expect } from 'vitest';
import type { LedgerRow } from '../../src/ledger/ledger.js';
import type { LedgerPlace } from './ledgers.js';
import { startUsageGateway } from './usage-gateway.js';

export async function dashboardAt(
  makePlace: () => LedgerPlace | Promise<LedgerPlace>,
  config: (ledgerUrl: string) => string,
  adminKey: string,
  now: number,
  seeded: LedgerRow[],
): Promise<any> {
  const place = await makePlace();
  const gw = await startUsageGateway(config(place.url), now);
  try {
    await gw.usage.ledger.append(seeded);
    const res = await fetch(`${gw.url}/api/tokens/dashboard?org=default`, { headers: { authorization: `Bearer ${adminKey}` } });
    expect(res.status).toBe(200);
    return await res.json();
  } finally {
    await gw.close();
    await place.drop();
  }
}
