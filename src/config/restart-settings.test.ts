import { describe, expect, it } from 'vitest';
import { load } from '../../test/helpers/config-texts.js';
import { settingsNeedingRestart } from './restart-settings.js';
import { fieldPaths } from './schema-walk.js';
import { configSchema } from './schema.js';

const EVERY_START_ONLY_FIELD = [
  'server.host', 'server.port', 'server.timezone', 'server.max_body_bytes',
  'storage.counters', 'storage.ledger', 'storage.on_store_error', 'storage.timeout_ms', 'storage.rebuild_wait_ms', 'storage.instances', 'storage.reservation_ttl_ms',
  'storage.lease_ms', 'storage.key_refresh_ms',
  'ledger.enabled', 'ledger.durability', 'ledger.flush_interval_ms', 'ledger.batch_size', 'ledger.max_buffered_rows', 'ledger.shutdown_flush_ms', 'ledger.spill_dir', 'ledger.spill_max_mb',
  'metrics.enabled', 'metrics.user_labels', 'metrics.bearer_token',
  // Only when it turns CORS on: see the test below.
  'server.cors_origins',
];

describe('settingsNeedingRestart', () => {
  const running = load('server: {port: 4000}\n');

  it('names nothing when only settings a reload applies change', () => {
    expect(settingsNeedingRestart(running, load('server: {port: 4000, admin_key: new, drain_delay_ms: 5000, drain_timeout_ms: 90000}\nprojects: {p: {daily_limit: 5}}\nenforcement: {default_max_tokens: 100}\n'))).toEqual([]);
  });

  it('names each start-only field that changes, by its config name', () => {
    const next = load(`
server: {host: 0.0.0.0, port: 4001, timezone: Europe/Paris, max_body_bytes: 5, cors_origins: ["https://tools.example.com"]}
storage: {counters: "redis://cache:6379", ledger: "sqlite:./x.db", on_store_error: fail_open, timeout_ms: 9, rebuild_wait_ms: 9, instances: 2, reservation_ttl_ms: 5, lease_ms: 2, key_refresh_ms: 100}
ledger: {enabled: false, durability: strict, flush_interval_ms: 50, batch_size: 5, max_buffered_rows: 5, shutdown_flush_ms: 500, spill_dir: ./spill, spill_max_mb: 5}
metrics: {enabled: false, user_labels: true, bearer_token: t}
`);
    expect(settingsNeedingRestart(running, next)).toEqual(EVERY_START_ONLY_FIELD);
  });

  it('covers every field of the sections used at start, except those read when used (the admin key per request, the drain settings at SIGTERM)', () => {
    const readWhenUsed = ['server.admin_key', 'server.drain_delay_ms', 'server.drain_timeout_ms'];
    const fields = fieldPaths(configSchema).filter((path) => /^(server|storage|ledger|metrics)\./.test(path) && !readWhenUsed.includes(path));
    expect(fields.sort()).toEqual([...EVERY_START_ONLY_FIELD].sort());
  });

  it('names the CORS origins only when they turn CORS on: once on, a reload changes the list or empties it', () => {
    const on = load('server: {cors_origins: ["https://a.example.com"]}\n');
    expect(settingsNeedingRestart(running, on)).toEqual(['server.cors_origins']);
    expect(settingsNeedingRestart(running, load('server: {cors_origins: "*"}\n'))).toEqual(['server.cors_origins']);
    expect(settingsNeedingRestart(on, load('server: {cors_origins: ["https://b.example.com", "http://localhost:5173"]}\n'))).toEqual([]);
    expect(settingsNeedingRestart(on, load('server: {cors_origins: "*"}\n'))).toEqual([]);
    expect(settingsNeedingRestart(on, running)).toEqual([]);
  });

  it('leaves out host and port when serve --host / --port decide them', () => {
    const next = load('server: {host: 0.0.0.0, port: 4001}\n');
    expect(settingsNeedingRestart(running, next, { host: true, port: true })).toEqual([]);
    expect(settingsNeedingRestart(running, next, { port: true })).toEqual(['server.host']);
  });
});
