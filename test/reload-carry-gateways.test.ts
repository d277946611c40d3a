// Two gateway processes on one Redis and one PostgreSQL ledger, reloaded from a fixed window to a sliding one
// while calls are in flight on both configs. Gateway A's old calls were charged to the fixed window's count
// only; its rebuild once they had ended compared the sliding window's counter with the ledger while B's new
// call held 600 there, so it raised nothing, and once B's call settled at 1 token the limit had A's 400
// tokens of room again: a call asking 700 was admitted (1,101 tokens in a 1,000 limit) and the audit read
// -400. A now carries each old call into the new count as it ends (src/ledger/reload-carry.ts).
import { expect, it } from 'vitest';
import { fleetCall, outputAudit, reloadWith, useReloadFleet } from './helpers/reload-fleet.js';

// Long enough for both reloads (a config parsed in a worker, a rebuild) to apply while the old calls run.
const OLD_CALL_MS = 6_000;
const NEW_CALL_MS = 9_000;
const fleet = useReloadFleet();

it("keeps one gateway's old calls in the new count though another gateway's call was in flight at its rebuild", { timeout: 40_000 }, async () => {
  const { config, gateway } = await fleet();
  const text = (algorithm: string): string => config(`algorithm: ${algorithm}, window_size: 1 hour, max_token: 1000`);
  const [{ gw: a, file: fileA }, { gw: b, file: fileB }] = await Promise.all([gateway(text('fixed_window')), gateway(text('fixed_window'))]);

  // Four calls on A under the fixed window, 100 output tokens each, still generating through the reload.
  const startedAt = Date.now();
  const old = Promise.all([1, 2, 3, 4].map(() => fleetCall(a, 100, 100, OLD_CALL_MS)));
  await new Promise((r) => setTimeout(r, 300));
  await Promise.all([reloadWith(a, fileA, text('sliding_window')), reloadWith(b, fileB, text('sliding_window'))]);
  // B admits a call under the new config asking 600; it ends after A's old calls, with 1 token.
  const fresh = fleetCall(b, 600, 1, NEW_CALL_MS);
  await new Promise((r) => setTimeout(r, 500));
  expect(Date.now() - startedAt, 'the reloads took so long that the old calls may have ended first').toBeLessThan(OLD_CALL_MS - 1_000);
  expect(await old).toEqual([1, 2, 3, 4].map(() => ({ status: 200, output: 100 })));
  expect(await fresh).toEqual({ status: 200, output: 1 });

  // 401 of the 1,000 are spent: 700 more do not fit (they did, with the count at 1).
  expect((await fleetCall(a, 700, 1)).status).toBe(429);
  expect((await fleetCall(b, 599, 1)).status).toBe(200);
  // Counter and ledger agree: nothing counted twice, nothing missing.
  expect(await outputAudit(a)).toEqual([[402, 402, 0]]);
});
