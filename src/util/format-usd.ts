// Dollar amounts as people read them, in the dashboard's messages and on its web page (the JSON figures
// stay numbers): whole cents from one cent up ($12.35, $1,234.50), two significant digits below it
// ($0.0042, $0.000017), so that a cost that is not zero never reads as free, and zero as $0.00.
// These functions use nothing outside themselves: the web page runs their own source (FORMAT_USD_SCRIPT).

/** How many decimals show `usd`: 2 from one cent up (and for zero), else enough for two significant digits. */
function usdDecimals(usd: number): number {
  const a = Math.abs(usd);
  return a >= 0.01 || a === 0 || !Number.isFinite(a) ? 2 : Math.min(20, 1 - Math.floor(Math.log10(a)));
}

/** `usd` as `$1,234.5` with 2 to `decimals` decimals (trailing zeros past the cents dropped). */
function usdText(usd: number, decimals: number): string {
  return (usd < 0 ? '-$' : '$') + Math.abs(usd).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: decimals });
}

/** A dollar amount for people: `$12.35`, `$0.0042`, `$0.000017`, `$0.00`. */
export function formatUsd(usd: number): string {
  return usdText(usd, usdDecimals(usd));
}

/**
 * Two amounts shown side by side (used of a limit), each as formatUsd, but both with more decimals when
 * different amounts would read the same: `$0.009998 of $0.01`, `$9.999 of $10.00`, never `$0.01 of $0.01`.
 */
export function formatUsdPair(a: number, b: number): [string, string] {
  const pair: [string, string] = [formatUsd(a), formatUsd(b)];
  for (let d = Math.max(usdDecimals(a), usdDecimals(b)); a !== b && pair[0] === pair[1] && d <= 20; d++) {
    pair[0] = usdText(a, d);
    pair[1] = usdText(b, d);
  }
  return pair;
}

/** The source of formatUsd and formatUsdPair, for a page's inline script: the page and the server write money alike. */
export const FORMAT_USD_SCRIPT = [usdDecimals, usdText, formatUsd, formatUsdPair].map(String).join('\n');
