// `Date.parse`, where `tollgate usage` sends text that is no other form of time, reads a bare number
// as a date (`0` is 2000-01-01, `7` 2001-07-01, `12` 2001-12-01, while `30` is refused), so a forgotten
// unit silently reported another period. Checked before parsing.

/** Why `text` is not a time when it is a bare number (`7` meant as `7d`), or undefined. */
export function unitlessNumber(text: string): string | undefined {
  const number = text.trim();
  if (!/^[+-]?\d+(\.\d+)?$/.test(number)) return undefined;
  const n = /^\d+$/.test(number) ? number : '7';
  return `cannot read time '${text}': a number needs its unit, such as ${n}d (days), ${n}h, ${n}m or ${n}w`;
}
