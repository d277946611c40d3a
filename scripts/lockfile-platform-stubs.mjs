#!/usr/bin/env node
// The npm registry mirror this project is developed against serves only the linux builds of packages
// that ship one binary package per platform (rollup's), so `npm install` writes a lockfile without the
// other platforms' entries, and `npm ci` then refuses it as out of sync. This adds the missing entries
// (marked optional, with their os/cpu/libc) so `npm ci` accepts the lockfile and skips them as it
// would on any machine. Run it after `npm install` changes package-lock.json.
import { readFileSync, writeFileSync } from 'node:fs';

const LOCK = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(LOCK, 'utf8'));
const packages = lock.packages;

const OS = { android: 'android', darwin: 'darwin', freebsd: 'freebsd', linux: 'linux', win32: 'win32', openbsd: 'openbsd', openharmony: 'openharmony' };
const CPU = { arm: 'arm', arm64: 'arm64', x64: 'x64', ia32: 'ia32', loong64: 'loong64', ppc64: 'ppc64', riscv64: 'riscv64', s390x: 's390x' };

/** os, cpu and libc of a platform package, read from its name (e.g. `rollup-linux-arm64-musl`). */
function platformOf(name) {
  const parts = name.split('/').pop().split('-').slice(1);
  const os = OS[parts[0]];
  const cpu = CPU[parts[1]];
  if (!os || !cpu) return undefined;
  const rest = parts.slice(2).join('-');
  const libc = os === 'linux' ? (rest.startsWith('musl') ? 'musl' : 'glibc') : undefined;
  return { os, cpu, libc };
}

let added = 0;
for (const [path, entry] of Object.entries(packages)) {
  for (const [dep, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`;
    if (packages[key] || !/^\d/.test(version)) continue;
    const platform = platformOf(dep);
    if (!platform) continue;
    packages[key] = {
      version,
      ...(entry.dev ? { dev: true } : {}),
      optional: true,
      os: [platform.os],
      cpu: [platform.cpu],
      ...(platform.libc ? { libc: [platform.libc] } : {}),
    };
    added++;
    void path;
  }
}
writeFileSync(LOCK, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lockfile-platform-stubs: added ${added} platform entries`);
