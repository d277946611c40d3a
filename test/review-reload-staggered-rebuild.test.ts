// A reload rolled across two gateways that share Redis and a PostgreSQL ledger, one after the other (each
// reads its own copy of the config, as on two hosts). Gateway A moves the output limit from a fixed window
// to a sliding one first; B, still on the fixed window, serves 400 output tokens, charged to the fixed
// count only. A then admits a call asking 600 under the sliding window, and B reloads while it is in flight.
// B's rebuild compared the sliding counter (A's 600 reserved) with the ledger (400) and its own calls in
// flight (none), so it raised nothing: A's reservation hid B's 400, and once A's call settled at 1 token
// the limit had that room again. B's calls ended before its reload, so no carry (reload-carry.ts) counts
// them either. Seen: a call asking 700 admitted (1,101 output tokens in a 1,000 limit), audit drift -400.
// Fixed by the held index (src/limits/redis/lua-held-index.ts): Redis keeps what every gateway's
// reservations hold apart from settled usage, and the rebuild raises the settled part.
import { expect, it } from 'vitest';
import { fleetCall, outputAudit, reloadWith, useReloadFleet } from './helpers/reload-fleet.js';

const HELD_CALL_MS = 5_000;
const fleet = useReloadFleet();

it('counts what a gateway served under the old config before its own reload, though another gateway already holds a reservation in the new count', { timeout: 40_000 }, async () => {
  const { config, gateway } = await fleet();
  const text = (algorithm: string): string => config(`algorithm: ${algorithm}, window_size: 1 hour, max_token: 1000`);
  const [{ gw: a, file: fileA }, { gw: b, file: fileB }] = [await gateway(text('fixed_window')), await gateway(text('fixed_window'))];

  await reloadWith(a, fileA, text('sliding_window'));
  // B, not yet reloaded, serves 400 output tokens under the fixed window.
  expect(await Promise.all([1, 2, 3, 4].map(() => fleetCall(b, 100, 100)))).toEqual([1, 2, 3, 4].map(() => ({ status: 200, output: 100 })));
  // A admits a call asking 600 under the sliding window; B reloads while it runs.
  const startedAt = Date.now();
  const held = fleetCall(a, 600, 1, HELD_CALL_MS);
  await new Promise((r) => setTimeout(r, 300));
  await reloadWith(b, fileB, text('sliding_window'));
  expect(Date.now() - startedAt, "B's reload took so long that A's call may have ended first").toBeLessThan(HELD_CALL_MS - 1_000);
  expect(await held).toEqual({ status: 200, output: 1 });

  // 401 of the 1,000 are spent: 700 more do not fit.
  expect(await outputAudit(a)).toEqual([[401, 401, 0]]);
  expect((await fleetCall(a, 700, 1)).status).toBe(429);
});
