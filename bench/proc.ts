/**
 * Readings of a server process from /proc (Linux only): CPU time of all its threads, resident
 * memory; and a description of the machine for the report.
 */
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`, 100 almost everywhere). */
export function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5_000 }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** utime + stime of the whole process (every thread: main, GC helpers, libuv pool), in seconds. */
export function cpuSeconds(pid: number): number {
  const { user, kernel } = statTimes(`/proc/${pid}/stat`);
  return user + kernel;
}

/** utime + stime of the main (JavaScript) thread alone: the rest is GC helper and libuv threads. */
export function mainThreadCpuSeconds(pid: number): number {
  const { user, kernel } = statTimes(`/proc/${pid}/task/${pid}/stat`);
  return user + kernel;
}

/**
 * stime of the whole process: time in the kernel (the socket syscalls, above all), which every
 * server pays about equally for the same writes; the rest, utime, is its own code and V8's.
 */
export function kernelCpuSeconds(pid: number): number {
  return statTimes(`/proc/${pid}/stat`).kernel;
}

/** utime and stime of a stat file, in seconds. */
function statTimes(path: string): { user: number; kernel: number } {
  const stat = readFileSync(path, 'utf8');
  // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so utime (14) and stime (15) are at 11 and 12.
  return { user: Number(fields[11]) / clockTicks(), kernel: Number(fields[12]) / clockTicks() };
}

/** Resident set size in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  kernel: string;
  date: string;
}

export function machine(): Machine {
  let cpu = cpus()[0]?.model ?? 'unknown';
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpu;
  } catch {
    /* keep os.cpus() */
  }
  let memoryGiB = NaN;
  let kernel = 'unknown';
  try {
    memoryGiB = Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1]) / 1024 / 1024;
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    /* not Linux: figures from /proc would fail anyway */
  }
  return { cpu, cores: cpus().length, memoryGiB: Math.round(memoryGiB * 10) / 10, node: process.version, kernel, date: new Date().toISOString() };
}
