// Turns counter items into the script arguments (see lua-prelude.ts): one cached spec string per item, the
// window table with the edges of every calendar / whole-day window in use, cached until one rolls, and the
// whole argument lists of the reserve and settle scripts, as Redis protocol text (script-call.ts).
// Also works out reset times from a script's answer, the way MemoryCounterStore does.
import type { WindowSpec } from '../../config/policy.js';
import type { CounterItem, PriceFactors, ReserveRequest, RestoreEntry, SettleUsage } from '../counter-store.js';
import { SLIDING_SLOTS, slotEpoch, WindowCalculator, windowKey, windowLengthMs } from '../windows.js';
import { bulk, ScriptArgs } from './script-call.js';

const DAY_MS = 86_400_000;
const ALGORITHM_CODES = { fixed_window: 'f', sliding_window: 's', token_bucket: 'b' } as const;

/** The window table of one call: the ARGV string, and the edges it holds per slot (slot k at index k - 1). */
export interface WindowTable {
  arg: string;
  edges: number[][];
}

interface Slot {
  window: WindowSpec;
  /** Previous start, current start, next start, next end. */
  edges: number[];
}

/** Windows Lua cannot compute itself (calendar and whole-day windows need the time zone database). */
function needsEdges(item: CounterItem): boolean {
  return item.algorithm === 'fixed_window' && (item.window.kind === 'calendar' || item.window.ms % DAY_MS === 0);
}

/** One reservation as RESERVE_LUA takes it. */
export interface ReserveCall {
  req: ReserveRequest;
  recordKey: string;
  /** The organization's held index (hash-tags.ts heldIndexKey). */
  heldIndex: string;
  /** Whether the reservation is noted there (not a budget lease's: lua-held-index.ts). */
  noteHeld: boolean;
  /** The organization's presence marker, the id of its last primary and its admitted count (hash-tags.ts), when lost counters are rebuilt. */
  watchKeys: { presence: string; lastPrimary: string; admitted: string } | undefined;
  override: string;
  ttlMs: number;
  windows: WindowTable;
  factors: PriceFactors;
  /** The highest reservation count this instance has seen ('' for none). */
  seen: string;
  /** The replication id of the node that answered this organization's last reservation ('' for none). */
  replid: string;
}

/** One settlement as its section of SETTLE_LUA's arguments takes it. */
export interface SettleCall {
  recordKey: string;
  presenceKey: string;
  heldIndex: string;
  items: readonly CounterItem[];
  /** Indexes of the items whose amount changes: only those go to Redis. */
  changed: readonly number[];
  usage: SettleUsage;
  reservedInput: number;
  reserved: PriceFactors;
  billed: PriceFactors;
  /** What the script is told of a record it may not find (OpenReservations.knownState). */
  known: string;
}

/** Builds script arguments for one store; calendar windows depend on its time zone. */
export class ItemArgs {
  private readonly specs = new WeakMap<CounterItem, string>();
  private readonly slotOf = new WeakMap<CounterItem, number>();
  private readonly encoded = new WeakMap<CounterItem, { key: string; spec: string }>();
  private readonly slotIds = new Map<string, number>();
  private readonly slots: Slot[] = [];
  private table: WindowTable | undefined;
  private tableFrom = Infinity;
  private tableUntil = -Infinity;
  private readonly current: WindowCalculator;
  // A second calculator for the neighbouring windows, so the current one's cache is never evicted.
  private readonly neighbours: WindowCalculator;

  constructor(timezone: string) {
    this.current = new WindowCalculator(timezone);
    this.neighbours = new WindowCalculator(timezone);
  }

  /** The item's spec string: "<alg> <max> <w in> <w out> <w request> <shadow> <length> <slot> <priced>". */
  spec(item: CounterItem): string {
    let spec = this.specs.get(item);
    if (spec === undefined) {
      const w = item.weights;
      const slot = needsEdges(item) ? this.slotFor(item.window) : 0;
      spec = `${ALGORITHM_CODES[item.algorithm]} ${item.max} ${w.input} ${w.output} ${w.request} ${item.mode === 'shadow' ? 1 : 0} ${windowLengthMs(item.window)} ${slot} ${item.priced ? 1 : 0}`;
      this.specs.set(item, spec);
      this.slotOf.set(item, slot);
    }
    return spec;
  }

  /** The item's key and spec as script call text (script-call.ts), encoded once per item. */
  encodedOf(item: CounterItem): { key: string; spec: string } {
    let e = this.encoded.get(item);
    if (e === undefined) {
      e = { key: bulk(item.key), spec: bulk(this.spec(item)) };
      this.encoded.set(item, e);
    }
    return e;
  }

  /** RESERVE_LUA's KEYS and ARGV (see there). */
  reserveArgs(c: ReserveCall): ScriptArgs {
    const { req, factors } = c;
    const a = new ScriptArgs();
    for (const item of req.items) a.encodedKey(this.encodedOf(item).key);
    a.key(c.recordKey);
    a.key(c.heldIndex);
    if (c.watchKeys !== undefined) {
      a.key(c.watchKeys.presence);
      a.key(c.watchKeys.lastPrimary);
      a.key(c.watchKeys.admitted);
    }
    a.arg(c.override);
    a.arg(String(req.input));
    a.arg(String(req.output));
    a.arg(req.clamp ? '1' : '0');
    a.arg(String(req.minOutput));
    a.arg(String(c.ttlMs));
    a.arg(c.windows.arg);
    a.arg(String(factors.input));
    a.arg(String(factors.output));
    for (const item of req.items) a.encodedArg(this.encodedOf(item).spec);
    a.arg(c.seen);
    a.arg(c.replid);
    a.arg(c.noteHeld ? '1' : '0');
    return a;
  }

  /**
   * One settlement's section of SETTLE_LUA's KEYS and ARGV (see there): its record, presence and held index
   * keys and the changed items' keys; the item count, the usage, and per changed item its spec and index.
   */
  settleSection(c: SettleCall): ScriptArgs {
    const { usage, reserved, billed } = c;
    const a = new ScriptArgs();
    a.key(c.recordKey);
    a.key(c.presenceKey);
    a.key(c.heldIndex);
    for (const i of c.changed) a.encodedKey(this.encodedOf(c.items[i]).key);
    for (const value of [c.changed.length, usage.input, usage.output, usage.request, c.reservedInput, reserved.input, reserved.output, billed.input, billed.output]) a.arg(String(value));
    a.arg(c.known);
    for (const i of c.changed) {
      a.encodedArg(this.encodedOf(c.items[i]).spec);
      a.arg(String(i + 1));
    }
    return a;
  }

  /**
   * The previous, current and next window of every slot around `nowMs` (the instance's estimate of Redis
   * time): Lua picks the one containing Redis time, so instances whose clocks are off by less than a window
   * still agree. Call after `spec()` for the call's items, so their slots exist.
   */
  windows(nowMs: number): WindowTable {
    if (this.table && nowMs >= this.tableFrom && nowMs < this.tableUntil) return this.table;
    this.tableFrom = -Infinity;
    this.tableUntil = Infinity;
    for (const slot of this.slots) {
      const cur = this.current.bounds(slot.window, nowMs);
      const prev = this.neighbours.bounds(slot.window, cur.startMs - 1);
      const next = this.neighbours.bounds(slot.window, cur.endMs);
      slot.edges = [prev.startMs, cur.startMs, next.startMs, next.endMs];
      this.tableFrom = Math.max(this.tableFrom, cur.startMs);
      this.tableUntil = Math.min(this.tableUntil, cur.endMs);
    }
    this.table = { arg: this.slots.map((s) => s.edges.join(' ')).join(' '), edges: this.slots.map((s) => s.edges) };
    return this.table;
  }

  /** When a limit next has room, from the script's time, the item's usage and (sliding) its oldest counted slot. */
  resetAt(item: CounterItem, nowMs: number, used: number, oldestSlot: string | number, table: WindowTable): number {
    const length = windowLengthMs(item.window);
    if (item.algorithm === 'token_bucket') return nowMs + Math.ceil((used * length) / item.max);
    if (item.algorithm === 'sliding_window') return (Number(oldestSlot) + SLIDING_SLOTS + 1) * (length / SLIDING_SLOTS);
    const slot = this.slotOf.get(item) ?? 0;
    if (slot === 0) return Math.floor(nowMs / length) * length + length;
    const e = table.edges[slot - 1];
    for (let i = 0; i < 3; i++) if (nowMs >= e[i] && nowMs < e[i + 1]) return e[i + 1];
    return NaN; // the script refuses calls whose windows do not contain its time, so this is never reached
  }

  /**
   * A refused sliding window's `leaving` from the reserve script's counted slots ("<epoch> <count> ...",
   * oldest first): MemoryCounterStore.leaving()'s arithmetic, each slot leaving at (epoch + SLIDING_SLOTS
   * + 1) * slot length. Counts are integers or 17-significant-digit text, so they round-trip exactly.
   */
  leaving(item: CounterItem, slots: string | number): Array<{ atMs: number; amount: number }> {
    const out: Array<{ atMs: number; amount: number }> = [];
    if (slots === '') return out;
    const slotMs = windowLengthMs(item.window) / SLIDING_SLOTS;
    const v = String(slots).split(' ');
    for (let j = 0; j + 1 < v.length; j += 2) out.push({ atMs: (Number(v[j]) + SLIDING_SLOTS + 1) * slotMs, amount: Number(v[j + 1]) });
    return out.sort((a, b) => a.atMs - b.atMs);
  }

  private slotFor(window: WindowSpec): number {
    const key = windowKey(window);
    let id = this.slotIds.get(key);
    if (id === undefined) {
      this.slots.push({ window, edges: [] });
      id = this.slots.length;
      this.slotIds.set(key, id);
      this.table = undefined; // the next table must include the new slot
    }
    return id;
  }
}

/**
 * RESTORE_LUA's value for an entry: its usage (a fixed window's with its window's start, and " s" for
 * settled usage, then its whole figure), or a sliding window's slots as "<epoch> <usage> ...", after
 * "k <usage>[/<whole usage>] " into a store that kept them.
 */
export function restoreValue(entry: RestoreEntry): string {
  const { item, slots } = entry;
  // A fixed window's "<usage> <window start>": restored only while that window is current (RestoreEntry.windowStartMs).
  const whole = entry.wholeUsed !== undefined ? ` ${entry.wholeUsed}` : '';
  if (item.algorithm === 'fixed_window' && entry.windowStartMs !== undefined) return `${entry.used} ${entry.windowStartMs}${entry.settled ? ` s${whole}` : ''}`;
  if (item.algorithm !== 'sliding_window' || !slots) return String(entry.used);
  const list = slots.map((s) => `${slotEpoch(item.window, s.atMs)} ${s.used}`).join(' ');
  if (entry.kept) return `k ${entry.used}${entry.wholeUsed !== undefined ? `/${entry.wholeUsed}` : ''} ${list}`;
  // No slots: nothing to raise (0 is below any counter).
  return slots.length === 0 ? '0' : list;
}
