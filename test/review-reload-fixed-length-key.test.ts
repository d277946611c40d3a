// Fixed windows of different lengths share one Redis key (`...:route:r:output:fixed_window`, a hash of the
// window start and its usage), and a reservation or rebuild in a window that starts elsewhere starts the
// hash afresh. While a reload that changes the length rolls across gateways (each with its own copy of
// the config), the one reloaded first rebuilds the counter into its window (60 minutes -> 61 minutes: the
// windows start apart), and the one not yet reloaded then finds no usage in its own, unchanged window: it
// forgets what it served itself. Seen: gateway B, whose config never changed, admitted 600 + 600 output
// tokens in one hour against a 1,000 limit, once A had reloaded (the second 600 was refused before).
import { expect, it } from 'vitest';
import { fleetCall, reloadWith, useReloadFleet } from './helpers/reload-fleet.js';

const HOUR_MS = 3_600_000;
const fleet = useReloadFleet();
const output = (windowSize: string): string => `algorithm: fixed_window, window_size: ${windowSize}, max_token: 1000`;

it("keeps a gateway's own fixed-window count when another gateway reloads the window to another length", { timeout: 40_000 }, async () => {
  // All of it within one hour window (and one 61-minute window): a call near the hour's edge would be
  // admitted in the next window, rightly.
  const toEdge = HOUR_MS - (Date.now() % HOUR_MS);
  if (toEdge < 30_000) await new Promise((r) => setTimeout(r, toEdge + 100));
  const { config, gateway } = await fleet();
  const [{ gw: a, file: fileA }, { gw: b }] = [await gateway(config(output('60 minutes'))), await gateway(config(output('60 minutes')))];
  const hour = Math.floor(Date.now() / HOUR_MS);

  expect((await fleetCall(b, 600, 600)).status).toBe(200);
  expect((await fleetCall(b, 600, 600)).status).toBe(429);
  // A alone reloads to a 61-minute window (its rebuild writes the shared key); B's config is unchanged.
  await reloadWith(a, fileA, config(output('61 minutes')));

  // Still 600 of B's 1,000 spent in B's hour: 600 more do not fit.
  expect((await fleetCall(b, 600, 600)).status).toBe(429);
  expect(Math.floor(Date.now() / HOUR_MS), 'the hour rolled over during the test').toBe(hour);
});
