// Calendar windows at their hardest edges, on the memory store and on a private Redis (whose Lua picks the
// window among edges the instance computed): days of 23, 23.5, 24.5 and 25 hours, a midnight that DST
// skips, month and year ends in zones 14 hours ahead of and 11 hours behind UTC, and a leap day. Each
// case's edges are written out by hand from the zone's rules, not computed by the code under test.
import { describe, expect, it } from 'vitest';
import type { CounterItem } from '../src/limits/counter-store.js';
import { ManualClock } from '../src/util/clock.js';
import { useMemoryAndRedisStores } from './helpers/memory-and-redis-stores.js';
import type { CalendarEdge } from './helpers/calendar-edge.js';

const EDGES: CalendarEdge[] = [
  { name: 'New York, spring forward (23 h)', timezone: 'America/New_York', unit: 'day', start: '2026-03-08T05:00:00Z', end: '2026-03-09T04:00:00Z' },
  { name: 'New York, fall back (25 h)', timezone: 'America/New_York', unit: 'day', start: '2026-11-01T04:00:00Z', end: '2026-11-02T05:00:00Z' },
  { name: 'Paris, spring forward (23 h)', timezone: 'Europe/Paris', unit: 'day', start: '2026-03-28T23:00:00Z', end: '2026-03-29T22:00:00Z' },
  { name: 'Paris, fall back (25 h)', timezone: 'Europe/Paris', unit: 'day', start: '2026-10-24T22:00:00Z', end: '2026-10-25T23:00:00Z' },
  { name: 'Lord Howe, 30 min back (24.5 h)', timezone: 'Australia/Lord_Howe', unit: 'day', start: '2026-04-04T13:00:00Z', end: '2026-04-05T13:30:00Z' },
  { name: 'Lord Howe, 30 min forward (23.5 h)', timezone: 'Australia/Lord_Howe', unit: 'day', start: '2026-10-03T13:30:00Z', end: '2026-10-04T13:00:00Z' },
  // Chile moves from -04 to -03 at Saturday 24:00: Sunday begins at 01:00, and is 23 hours long.
  { name: 'Santiago, skipped midnight', timezone: 'America/Santiago', unit: 'day', start: '2026-09-06T04:00:00Z', end: '2026-09-07T03:00:00Z' },
  { name: 'Santiago, the day before the skip', timezone: 'America/Santiago', unit: 'day', start: '2026-09-05T04:00:00Z', end: '2026-09-06T04:00:00Z' },
  { name: 'Santiago, Saturday of 25 h (back at 24:00)', timezone: 'America/Santiago', unit: 'day', start: '2026-04-04T03:00:00Z', end: '2026-04-05T04:00:00Z' },
  { name: 'Kiritimati (+14), New Year’s Eve', timezone: 'Pacific/Kiritimati', unit: 'day', start: '2026-12-30T10:00:00Z', end: '2026-12-31T10:00:00Z' },
  { name: 'Kiritimati (+14), December', timezone: 'Pacific/Kiritimati', unit: 'month', start: '2026-11-30T10:00:00Z', end: '2026-12-31T10:00:00Z' },
  { name: 'Niue (-11), January', timezone: 'Pacific/Niue', unit: 'month', start: '2026-01-01T11:00:00Z', end: '2026-02-01T11:00:00Z' },
  { name: 'Niue (-11), leap February', timezone: 'Pacific/Niue', unit: 'month', start: '2028-02-01T11:00:00Z', end: '2028-03-01T11:00:00Z' },
  { name: 'UTC, leap day', timezone: 'UTC', unit: 'day', start: '2028-02-29T00:00:00Z', end: '2028-03-01T00:00:00Z' },
  { name: 'New York, March (DST inside)', timezone: 'America/New_York', unit: 'month', start: '2026-03-01T05:00:00Z', end: '2026-04-01T04:00:00Z' },
  { name: 'New York, year end', timezone: 'America/New_York', unit: 'month', start: '2026-12-01T05:00:00Z', end: '2027-01-01T05:00:00Z' },
];

const FACTORIES = useMemoryAndRedisStores();

describe.each(FACTORIES)('calendar windows at DST, month and year edges, %s store', (_name, factory) => {
  it.each(EDGES)('$name: starts and ends where the zone says, and says so as the reset', async (edge) => {
    const start = Date.parse(edge.start);
    const end = Date.parse(edge.end);
    const clock = new ManualClock(start - 1);
    const store = await factory(clock, edge.timezone);
    const org = `e${Math.random().toString(36).slice(2, 10)}`;
    const limit: CounterItem = { key: `tg:{${org}}:${edge.unit}`, algorithm: 'fixed_window', window: { kind: 'calendar', unit: edge.unit }, max: 10, weights: { input: 1, output: 1, request: 0 }, mode: 'enforce' };
    let n = 0;
    const reserve = (amount: number) => store.reserve({ id: `r${n++}`, items: [limit], input: amount, output: 0, clamp: false, minOutput: 1 });

    // The last millisecond before the window: the previous window, which ends at its start.
    const before = await reserve(10);
    expect(before.ok && before.states[0].resetAtMs).toBe(start);
    expect((await reserve(1)).ok).toBe(false);
    // Its first millisecond: a fresh window that resets at its end.
    clock.set(start);
    const first = await reserve(10);
    expect(first.ok, 'admitted at the window start').toBe(true);
    expect(first.states[0]).toMatchObject({ used: 10, resetAtMs: end });
    // Its last millisecond: still full, still resetting at its end.
    clock.set(end - 1);
    const last = await reserve(1);
    expect(last.ok).toBe(false);
    expect(last.states[0]).toMatchObject({ used: 10, max: 10, resetAtMs: end });
    clock.set(end);
    expect((await reserve(10)).ok, 'admitted at the window end').toBe(true);
  });
});
