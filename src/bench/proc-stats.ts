// CPU time and memory of another process, read from Linux /proc (the bench measures its children from outside).
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let clkTck: number | undefined;

/** Clock ticks per second for /proc/<pid>/stat times (almost always 100). */
export function clockTicksPerSecond(): number {
  clkTck ??= Number(execSync('getconf CLK_TCK').toString().trim()) || 100;
  return clkTck;
}

/** User + system CPU the process has used so far, in µs (resolution 1/CLK_TCK s). */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) may contain spaces and parentheses, so count fields from after its closing ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  const ticks = Number(rest[11]) + Number(rest[12]);
  return (ticks * 1e6) / clockTicksPerSecond();
}

/** Current and peak resident memory in bytes, from /proc/<pid>/status. */
export function memory(pid: number): { rss: number; peakRss: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peakRss: kb('VmHWM') };
}

/** CPU time all processes on the machine have used so far, in µs summed over cores (from /proc/stat). */
export function machineBusyMicros(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  // cpu user nice system idle iowait irq softirq steal ...: idle and iowait are the not-busy ones;
  // steal counts as busy because another VM took the core from us.
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  const ticks = user! + nice! + system! + irq! + softirq! + (steal ?? 0);
  return (ticks * 1e6) / clockTicksPerSecond();
}
