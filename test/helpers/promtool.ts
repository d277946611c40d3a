// Prometheus's own `promtool` (Debian's `prometheus` package), for the tests that lint /metrics with it.
import { spawnSync } from 'node:child_process';

const PROMTOOL = process.env.TOLLGATE_PROMTOOL ?? 'promtool';

/**
 * Whether promtool is there to test with. Set TOLLGATE_PROMTOOL_TESTS=required where it is installed (as
 * TOLLGATE_BROWSER_TESTS for Chromium), so that a missing promtool fails there instead of skipping.
 */
export function havePromtool(): boolean {
  const found = spawnSync(PROMTOOL, ['--version'], { stdio: 'ignore' }).status === 0;
  if (!found && process.env.TOLLGATE_PROMTOOL_TESTS === 'required') {
    throw new Error(`TOLLGATE_PROMTOOL_TESTS=required but there is no ${PROMTOOL} (apt-get install prometheus)`);
  }
  return found;
}

/** `promtool check metrics` on an exposition text: its exit status and the problems it lists, one a line. */
export function promtoolCheckMetrics(text: string): { status: number | null; problems: string[] } {
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  const problems = `${r.stdout}\n${r.stderr}`.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return { status: r.status, problems };
}
