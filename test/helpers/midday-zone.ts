// Tests that spend a daily (or monthly) budget under the real clock, and then compare what was spent with
// the limit or with the counter, hold only within one day. A run that crosses midnight counts two days'
// budgets: CI started the timed tests at 23:59:43 UTC on 12-06, and the cluster failover test saw 14,492
// tokens spent against a daily limit of 12,000. Such tests serve their gateways in a zone where it is
// midday now, so the day cannot end during the test (a fixed-offset Etc/GMT zone: no daylight saving).

/** An IANA zone whose local time is now between 12:00 and 12:59 (Etc/GMT-N is N hours ahead of UTC). */
export function middayZone(nowMs = Date.now()): string {
  const ahead = 12 - new Date(nowMs).getUTCHours(); // from +12 (00:xx UTC) to -11 (23:xx UTC): all exist
  if (ahead === 0) return 'UTC';
  return `Etc/GMT${ahead > 0 ? '-' : '+'}${Math.abs(ahead)}`;
}

/**
 * `yaml` (a whole config) served in middayZone(): a top-level `server: {timezone: ...}` appended at the end,
 * so the lines a test names keep their numbers. A config with a `server` section of its own keeps it, and
 * its zone is its own choice.
 */
export function servedAtMidday(yaml: string, nowMs = Date.now()): string {
  if (/^server:/m.test(yaml)) return yaml;
  return `${yaml.replace(/\n*$/, '\n')}server: {timezone: "${middayZone(nowMs)}"}\n`;
}
