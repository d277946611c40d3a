// The zone fleet tests serve their daily budgets in (test/helpers/midday-zone.ts): at every hour of the UTC
// day, a zone the gateway accepts, where it is midday, so a test of a few minutes never crosses midnight.
import { describe, expect, it } from 'vitest';
import { loadPolicy } from '../src/config/load-policy.js';
import { middayZone, servedAtMidday } from './helpers/midday-zone.js';
import { writeConfig } from './helpers/processes.js';

const localHour = (zone: string, ms: number): number => Number(new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', hourCycle: 'h23' }).format(ms));

describe('middayZone', () => {
  it('is a zone where the hour is 12, at every UTC hour of the day', () => {
    const day = Date.UTC(2026, 11, 6);
    for (let h = 0; h < 24; h++) {
      for (const minute of [0, 59]) {
        const at = day + h * 3_600_000 + minute * 60_000;
        expect(localHour(middayZone(at), at)).toBe(12);
      }
    }
  });

  it('is accepted as server.timezone, appended after the lines a test wrote', () => {
    const at = Date.UTC(2026, 11, 6, 23, 59, 43); // the CI run that crossed midnight
    const yaml = servedAtMidday('organizations: {o: {}}\nkeys: [{id: k, key: tg-k, organization: o}]\n', at);
    expect(yaml.split('\n').slice(0, 2)).toEqual(['organizations: {o: {}}', 'keys: [{id: k, key: tg-k, organization: o}]']);
    expect(loadPolicy([writeConfig(yaml)], {}).server.timezone).toBe('Etc/GMT+11');
  });

  it('leaves a config that has a server section of its own as it is', () => {
    const yaml = 'server: {port: 0}\norganizations: {o: {}}\n';
    expect(servedAtMidday(yaml)).toBe(yaml);
  });
});
