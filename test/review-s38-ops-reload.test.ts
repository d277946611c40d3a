// README "Reloading" checked on real `tollgate serve` processes the way an SRE deploys it: a Kubernetes
// ConfigMap's symlink swap, several --config files (a change to the second one, the second one removed),
// and the warning naming settings read only at start.
import { mkdirSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from './helpers/until.js';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';

let gateway: RunningProcess | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

const base = (ledger: string, provider = '{type: mock, output_tokens: 5}'): string => `
storage: {ledger: "sqlite:${ledger}"}
providers: {demo: ${provider}}
projects: {p: {daily_limit: 100000}}
routes: {r: {chat_models: [{model_id: m, model: demo/gpt-4o}]}}
`;
const keys = (...ids: string[]): string => `keys:\n${ids.map((k) => `  - {id: ${k}, key: tg-${k}, project: p}`).join('\n')}\n`;

async function status(key: string): Promise<number> {
  const res = await fetch(`${gateway!.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer tg-${key}` },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }),
  });
  await res.arrayBuffer();
  return res.status;
}


describe('reloading as deployed', () => {
  it('follows a Kubernetes ConfigMap update (the ..data symlink swapped to a new directory, the old one removed)', async () => {
    const dir = path.dirname(writeConfig('{}', 'unused.yaml'));
    const text = (...ids: string[]): string => base(path.join(dir, 'cm.db')) + keys(...ids);
    // As the kubelet lays a ConfigMap out: tollgate.yaml -> ..data/tollgate.yaml, ..data -> ..<timestamp>
    mkdirSync(path.join(dir, '..v1'));
    writeFileSync(path.join(dir, '..v1', 'tollgate.yaml'), text('a'));
    symlinkSync('..v1', path.join(dir, '..data'));
    symlinkSync('..data/tollgate.yaml', path.join(dir, 'tollgate.yaml'));
    gateway = await startCli(['serve', '--config', path.join(dir, 'tollgate.yaml'), '--port', '0']);
    expect(await status('b')).toBe(401);

    for (const [version, ids] of [['..v2', ['a', 'b']], ['..v3', ['b']]] as const) {
      mkdirSync(path.join(dir, version));
      writeFileSync(path.join(dir, version, 'tollgate.yaml'), text(...ids));
      symlinkSync(version, path.join(dir, '..tmp'));
      renameSync(path.join(dir, '..tmp'), path.join(dir, '..data')); // atomic swap of the link
    }
    rmSync(path.join(dir, '..v1'), { recursive: true });
    await until(async () => (await status('a')) === 401, 5000);
    expect(await status('b')).toBe(200);
  });

  it('reloads on a change to the second --config file, and keeps the merged config when that file is removed', async () => {
    const first = writeConfig(base('./merged.db') + keys('a'));
    const second = path.join(path.dirname(first), 'overlay.yaml');
    writeFileSync(second, keys('b'));
    gateway = await startCli(['serve', '--config', first, '--config', second, '--port', '0']);
    // keys lists are concatenated across files
    expect([await status('a'), await status('b'), await status('c')]).toEqual([200, 200, 401]);

    writeFileSync(second, keys('b', 'c'));
    await until(async () => (await status('c')) === 200, 5000);

    unlinkSync(second);
    await until(() => gateway!.output().includes(`${second}:1: file not found`), 5000);
    expect(gateway.output()).toContain('configuration reload failed; keeping the previous configuration');
    expect([await status('a'), await status('b'), await status('c')]).toEqual([200, 200, 200]);
  });

  // A reload that changes only a provider's `timeout_ms` (which applies from the next request) changes the
  // reservation TTL worked out from it when `storage.reservation_ttl_ms` is unset, which only a restart
  // applies. The warning named `storage.reservation_ttl_ms` alone, a field the operator finds in no file
  // (found by a QA pass, session 38); it now says where the value comes from.
  it('a provider timeout that changes the worked-out reservation TTL is named as such in the restart warning', async () => {
    const file = writeConfig(base('./ttl.db') + keys('a'));
    gateway = await startCli(['serve', '--config', file, '--port', '0'], { TOLLGATE_LOG_LEVEL: 'info' });
    writeFileSync(file, base('./ttl.db', '{type: mock, output_tokens: 5, timeout_ms: 120000}') + keys('a', 'b'));
    await until(async () => (await status('b')) === 200, 5000);
    await until(() => /configuration reloaded/.test(gateway!.output()), 5000);
    await until(() => /need a restart/.test(gateway!.output()), 5000);
    expect(gateway.output()).toContain("storage.reservation_ttl_ms (not set: twice the longest providers' timeout_ms");
  });
});
