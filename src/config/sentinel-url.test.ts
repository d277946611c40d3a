// `storage.counters: redis-sentinel://...`: what it is read as, and config errors that name the file,
// line and field without ever repeating the URL (it holds passwords).
import { describe, expect, it } from 'vitest';
import { issuesOf, load } from '../../test/helpers/config-texts.js';
import { parseSentinelUrl } from './sentinel-url.js';
import { redactUrl } from '../util/redact-url.js';

describe('redis-sentinel:// URLs', () => {
  it('reads the sentinels, the master name, the database and both sets of credentials', () => {
    expect(parseSentinelUrl('redis-sentinel://app:p%40ss@10.0.0.1:26380,sentinel-b,[::1]:26381/my%20master/3?sentinel_password=s%3Acret&sentinel_username=watch')).toEqual({
      tls: false,
      username: 'app',
      password: 'p@ss',
      sentinelUsername: 'watch',
      sentinelPassword: 's:cret',
      sentinels: [
        { host: '10.0.0.1', port: 26380 },
        { host: 'sentinel-b', port: 26379 },
        { host: '::1', port: 26381 },
      ],
      name: 'my master',
      db: 3,
    });
    expect(parseSentinelUrl('rediss-sentinel://:pw@s1:26379/mymaster')).toEqual({ tls: true, password: 'pw', sentinels: [{ host: 's1', port: 26379 }], name: 'mymaster', db: 0 });
  });

  it('is accepted by the config, as it was written', () => {
    const url = 'rediss-sentinel://:pw@s1:26379,s2:26379/mymaster/2?sentinel_password=x';
    expect(load(`storage: {counters: "${url}"}`).storage.counters).toBe(url);
  });

  it('refuses a broken URL with file, line and field, and never repeats a password', () => {
    const SECRET = 'Sup3rSecret';
    const problem = (counters: string): string[] =>
      issuesOf(`server: {port: 4000}\nstorage:\n  ledger: "sqlite:./x.db"\n  counters: "${counters}"\n`).map((i) => `${i.file}:${i.line} ${i.path}: ${i.message}`);
    const cases: Array<[string, RegExp]> = [
      [`redis-sentinel://:${SECRET}@s1:26379`, /names no master: add the name the sentinels monitor/],
      [`redis-sentinel://:${SECRET}@s1:26379/`, /names no master/],
      [`redis-sentinel://:${SECRET}@s1:26379/mymaster/zero`, /database after the master name must be a number/],
      [`redis-sentinel://:${SECRET}@s1:26379/mymaster/1/2`, /database after the master name must be a number/],
      [`redis-sentinel://:${SECRET}@s1:263790/mymaster`, /sentinel's port must be a number from 1 to 65535/],
      [`redis-sentinel://:${SECRET}@s1:0/mymaster`, /sentinel's port must be a number from 1 to 65535/],
      [`redis-sentinel://:${SECRET}@s1:,s2/mymaster`, /sentinel's port must be a number/],
      [`redis-sentinel://:${SECRET}@s1:26379,,s2/mymaster`, /a sentinel needs host\[:port\]/],
      [`redis-sentinel://:${SECRET}@/mymaster`, /a sentinel needs host\[:port\]/],
      [`redis-sentinel://:p@ss-${SECRET}@s1/mymaster`, /percent-encoded/],
      [`redis-sentinel://:${SECRET}%zz@s1/mymaster`, /malformed %-escape/],
      [`redis-sentinel://s1/mymaster?password=${SECRET}`, /takes no query parameters but `sentinel_username` and `sentinel_password`/],
      [`redis-sentinel://s1/mymaster?${SECRET}`, /takes no query parameters but/],
    ];
    for (const [url, message] of cases) {
      const issues = problem(url);
      expect(issues, url).toHaveLength(1);
      expect(issues[0], url).toMatch(/^tollgate\.yaml:4 storage\.counters: /);
      expect(issues[0], url).toMatch(message);
      expect(issues[0], url).not.toContain(SECRET);
    }
  });

  it('names the sentinel form when the scheme is not one the gateway reads', () => {
    const [issue] = issuesOf('storage: {counters: "redis+sentinel://:Sup3rSecret@s1:26379/mymaster"}\n');
    expect(issue.path).toBe('storage.counters');
    expect(issue.message).toMatch(/`redis-sentinel:\/\/host:port\[,host:port\.\.\.\]\/<master name>\[\/db\]`/);
    expect(issue.message).not.toContain('Sup3rSecret');
  });

  it('is logged without its passwords', () => {
    expect(redactUrl('redis-sentinel://app:hunter2@s1:26379,s2:26379/mymaster/1?sentinel_password=hunter3')).toBe(
      'redis-sentinel://app:***@s1:26379,s2:26379/mymaster/1?sentinel_password=***',
    );
  });
});
