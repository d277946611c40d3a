// One contract for the managed keys' table, on SQLite (a file, with its writer thread, and `:memory:`) and
// on the real PostgreSQL: keys round-trip, ids and secrets are never given twice, and a change written over
// a version that was changed since is refused (two admins rotating one key at once: one wins, one is told).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEDGER_KINDS, type LedgerPlace } from '../../test/helpers/ledgers.js';
import type { KeyTable } from '../auth/key-table.js';
import type { ManagedKey } from '../auth/managed-key.js';
import type { Ledger } from './ledger.js';
import { openLedger } from './open-ledger.js';

const PLACES = [...LEDGER_KINDS, { kind: 'sqlite :memory:' as const, place: async (): Promise<LedgerPlace> => ({ kind: 'sqlite', url: 'sqlite::memory:', drop: async () => {} }) }];

let serial = 0;
function key(over: Partial<ManagedKey> = {}): ManagedKey {
  serial++;
  return {
    id: `key-${serial}`, sha256: serial.toString(16).padStart(64, '0'), hint: `tg-${serial}...`, organization: 'acme', project: 'production', user: 'ci', tier: 'tier_trial',
    groups: ['bots', 'ml'], routes: ['main'], createdAt: 1_796_000_000_000 + serial, revokedAt: null, previousSha256: null, previousUntil: null, expiresAt: null, updatedAt: 1_796_000_000_000 + serial, ...over,
  };
}

describe.each(PLACES)('key table: $kind', ({ place: makePlace }) => {
  let place: LedgerPlace;
  let ledger: Ledger;
  let table: KeyTable;

  beforeAll(async () => {
    place = await makePlace();
    ledger = await openLedger(place.url);
    table = ledger.keys!;
  });
  afterAll(async () => {
    await ledger?.close();
    await place?.drop();
  });

  it('stores every field and lists keys oldest first, nulls and empty lists kept', async () => {
    const full = key();
    const bare = key({ project: null, user: null, tier: null, groups: [], routes: null });
    const rotated = key({ previousSha256: 'f'.repeat(64), previousUntil: 1_796_000_900_000, revokedAt: null, expiresAt: 1_797_000_000_000 });
    for (const k of [bare, full, rotated]) expect(await table.insertKey(k)).toBe(true);
    const listed = (await table.listKeys()).filter((k) => [full.id, bare.id, rotated.id].includes(k.id));
    expect(listed).toEqual([full, bare, rotated]);
  });

  it('refuses a second key with a taken id or a taken secret, keeping the first', async () => {
    const first = key();
    expect(await table.insertKey(first)).toBe(true);
    expect(await table.insertKey({ ...key(), id: first.id })).toBe(false);
    expect(await table.insertKey({ ...key(), sha256: first.sha256 })).toBe(false);
    expect((await table.listKeys()).filter((k) => k.id === first.id || k.sha256 === first.sha256)).toEqual([first]);
  });

  it('writes a change over the version it read only; one made over a version changed since is refused', async () => {
    const k = key();
    await table.insertKey(k);
    const revoked = { ...k, revokedAt: k.updatedAt + 5, updatedAt: k.updatedAt + 5 };
    const rotated = { ...k, sha256: 'e'.repeat(63) + '1', hint: 'tg-new...', updatedAt: k.updatedAt + 7 };
    expect(await table.replaceKey(revoked, k.updatedAt)).toBe(true);
    // Read before the revocation: refused, so the revoked key does not come back with a new secret.
    expect(await table.replaceKey(rotated, k.updatedAt)).toBe(false);
    expect((await table.listKeys()).find((x) => x.id === k.id)).toEqual(revoked);
    expect(await table.replaceKey({ ...key(), id: 'no-such-key' }, 0)).toBe(false);
  });

  it('keeps the keys when the ledger is opened again (a restart)', async () => {
    if (place.url === 'sqlite::memory:') return; // nothing outlives the connection there
    const k = key();
    await table.insertKey(k);
    const again = await openLedger(place.url);
    try {
      expect((await again.keys!.listKeys()).find((x) => x.id === k.id)).toEqual(k);
    } finally {
      await again.close();
    }
  });
});
