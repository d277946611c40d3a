// Reading the counter scripts' replies: flat arrays of numbers and lists, as Redis hands them back.

/** A script's reply: whole numbers arrive as integers, everything else as text. */
export type Reply = Array<string | number>;

/** Whole numbers come back as integer replies, others as text; Lua writes infinities as `inf`, which Number() does not read. */
export function replyNumber(value: string | number): number {
  const n = Number(value);
  if (!Number.isNaN(n) || typeof value === 'number') return n;
  return /^-inf/.test(value) ? -Infinity : /^inf/.test(value) ? Infinity : NaN;
}

/** A reply field listing item indexes, space-separated ('' for none). */
export function replyIndexes(list: string | number): number[] {
  return list === '' ? [] : String(list).split(' ').map(Number);
}
