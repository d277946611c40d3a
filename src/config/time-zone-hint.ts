// "Did you mean" for a misspelt `server.timezone` (`Europe/Pairs`, `America/New York`).
import { typoDistance } from './suggest.js';

let zones: string[] | undefined;

// Intl's list, plus `UTC`, which Node lists under `Etc/` only.
function knownZones(): string[] {
  zones ??= ['UTC', ...Intl.supportedValuesOf('timeZone')];
  return zones;
}

/**
 * The zone `name` most likely means, when one is a typo or two away. Stricter than key suggestions:
 * `UTC+1` is two edits from `UTC` but means another zone, so short names get one edit only.
 */
export function timeZoneMeant(name: string): string | undefined {
  const written = name.trim().replace(/ /g, '_').toLowerCase();
  const allowed = written.length >= 8 ? 2 : 1;
  let best: { zone: string; d: number } | undefined;
  for (const zone of knownZones()) {
    const d = typoDistance(written, zone.toLowerCase());
    if (d <= allowed && (!best || d < best.d)) best = { zone, d };
  }
  if (best) return best.zone;
  // A city alone (`Paris`, `new york`): the zone named after it, when only one is.
  const cities = knownZones().filter((zone) => zone.toLowerCase().endsWith(`/${written}`));
  return cities.length === 1 ? cities[0] : undefined;
}
