// Tag values are whatever clients send and are recorded as sent; shown to an admin, a bidi control can
// reorder what follows it (Trojan Source, CVE-2021-42574: in a terminal table, the cost columns too) and a
// zero-width character makes two tags that look the same count apart. Reports show them as `<U+202E>`.

// Bidi embeddings, overrides and isolates, the implicit marks (LRM, RLM, ALM), zero-width space, joiners,
// word joiner and invisible operators, and the BOM / zero-width no-break space.
const INVISIBLE = /[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

const codePoint = (c: string): string => c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');

/** `text` with each invisible or reordering character written as `<U+XXXX>`, for tables and CSV. */
export function showInvisible(text: string): string {
  return text.replace(INVISIBLE, (c) => `<U+${codePoint(c)}>`);
}

/** JSON text with those characters as `\uXXXX` escapes: the same strings to a parser, inert in a terminal. */
export function escapeInvisibleInJson(json: string): string {
  // They can only occur inside JSON strings, where `\uXXXX` stands for exactly them.
  return json.replace(INVISIBLE, (c) => `\\u${codePoint(c).toLowerCase()}`);
}
