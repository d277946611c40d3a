// The admission rule, shared by every store: given each limit's current usage, may this request pass,
// and with how much output? Pure and synchronous so stores can call it inside their atomic section.
import type { CounterItem, PriceFactors } from './counter-store.js';

export type AdmissionResult =
  | { ok: true; output: number; amounts: number[]; shadowBlocked: number[] }
  | { ok: false; blocked: number[]; shadowBlocked: number[] };

/**
 * Amount one request adds to an item, for given input and output tokens; a money item scales its weights
 * by the call's price factors. The reserve and settle scripts compute it in the same order (lua-prelude.ts
 * `amount`), so both languages get the same double.
 */
export function amountFor(item: CounterItem, input: number, output: number, request: number, factors?: PriceFactors): number {
  const w = item.weights;
  if (item.priced && factors) return w.input * input * factors.input + w.output * output * factors.output + w.request * request;
  return w.input * input + w.output * output + w.request * request;
}

/** What one more output token adds to an item. */
export function outputWeight(item: CounterItem, factors?: PriceFactors): number {
  return item.priced && factors ? item.weights.output * factors.output : item.weights.output;
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
  factors?: PriceFactors,
): AdmissionResult {
  let granted = output;
  const blocked: number[] = [];
  const shadowBlocked: number[] = [];

  // First pass: the output each item allows once the fixed part (input, request) is counted.
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const room = item.max - used[i] - amountFor(item, input, 0, 1, factors);
    const perToken = outputWeight(item, factors);
    const allows = perToken > 0 ? Math.floor(room / perToken + 1e-9) : room >= 0 ? Infinity : -1;
    if (allows >= output) continue;
    const refuses = !clamp || allows < minOutput || allows < 0;
    // A shadow limit reports the calls it would refuse, not those it would only clamp; it never clamps.
    if (item.mode === 'shadow') {
      if (refuses) shadowBlocked.push(i);
      continue;
    }
    if (refuses) blocked.push(i);
    else granted = Math.min(granted, allows);
  }
  if (blocked.length > 0) return { ok: false, blocked, shadowBlocked };
  const amounts = items.map((item) => amountFor(item, input, granted, 1, factors));
  return { ok: true, output: granted, amounts, shadowBlocked };
}
