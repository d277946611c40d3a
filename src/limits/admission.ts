// The admission rule, shared by every store: given each limit's current usage, may this request pass,
// and with how much output? Pure and synchronous so stores can call it inside their atomic section.
import type { CounterItem } from './counter-store.js';

export type AdmissionResult =
  | { ok: true; output: number; amounts: number[]; shadowBlocked: number[] }
  | { ok: false; blocked: number[]; shadowBlocked: number[] };

/** Amount one request adds to an item, for given input and output tokens. */
export function amountFor(item: CounterItem, input: number, output: number, request: number): number {
  const w = item.weights;
  return w.input * input + w.output * output + w.request * request;
}

/**
 * Decides admission. `used[i]` is item i's usage now. Every enforced item must fit
 * `used + amount ≤ max`; when clamping, output is lowered to the largest value all items allow.
 */
export function admit(
  items: CounterItem[],
  used: number[],
  input: number,
  output: number,
  clamp: boolean,
  minOutput: number,
): AdmissionResult {
  let granted = output;
  const blocked: number[] = [];
  const shadowBlocked: number[] = [];

  // First pass: the output each item allows once the fixed part (input, request) is counted.
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const room = item.max - used[i] - amountFor(item, input, 0, 1);
    const allows = item.weights.output > 0 ? Math.floor(room / item.weights.output + 1e-9) : room >= 0 ? Infinity : -1;
    if (allows >= output) continue;
    if (item.mode === 'shadow') {
      shadowBlocked.push(i);
      continue;
    }
    if (!clamp || allows < minOutput || allows < 0) blocked.push(i);
    else granted = Math.min(granted, allows);
  }
  if (blocked.length > 0) return { ok: false, blocked, shadowBlocked };
  const amounts = items.map((item) => amountFor(item, input, granted, 1));
  return { ok: true, output: granted, amounts, shadowBlocked };
}
