import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time by process during a phase of a benchmark, from the kernel's accounting (/proc), so that
 * a figure that moved can be put down to the process that spent it: on a two-core machine the API,
 * the worker, the Temporal server and PostgreSQL take turns on the same cores, and a slower start
 * may be any of them. Linux only; elsewhere every figure is null.
 */

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** user + system CPU seconds of one process so far, or null when it is gone or /proc is missing. */
export function processCpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    return statTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')) / clockTicks();
  } catch {
    return null;
  }
}

/** Fields 14 and 15 of /proc/<pid>/stat (utime, stime); the name in field 2 may hold spaces, so count from its ')'. */
function statTicks(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/**
 * CPU seconds of every PostgreSQL process together (server, backends, background workers). A
 * backend that exits between two readings takes its time with it; the benchmarks' pools keep their
 * connections open through a phase, so little is lost.
 */
export function postgresCpuSeconds(): number | null {
  let total = 0;
  let found = false;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return null;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (name !== 'postgres') continue;
      total += statTicks(stat);
      found = true;
    } catch {
      // exited while being read
    }
  }
  return found ? total / clockTicks() : null;
}

/** CPU seconds the whole machine was busy (every core: not idle, not waiting on I/O) so far. */
export function machineBusySeconds(): number | null {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = cpu;
    return (user + nice + system + irq + softirq + steal) / clockTicks();
  } catch {
    return null;
  }
}

export interface CpuSources {
  /** Named processes to account for one by one. */
  processes: Record<string, number | undefined>;
}

export type CpuReading = Record<string, number | null>;

/** One reading of every source: each named process, PostgreSQL, and the machine as a whole. */
export function readCpu(sources: CpuSources): CpuReading {
  const reading: CpuReading = {};
  for (const [name, pid] of Object.entries(sources.processes)) reading[name] = processCpuSeconds(pid);
  reading.postgres = postgresCpuSeconds();
  reading.machine = machineBusySeconds();
  return reading;
}

/** CPU seconds spent between two readings, rounded to 10 ms; null where either reading is. */
export function cpuSpent(before: CpuReading, after: CpuReading): CpuReading {
  const spent: CpuReading = {};
  for (const name of Object.keys(after)) {
    const a = before[name];
    const b = after[name];
    spent[name] = a === null || a === undefined || b === null || b === undefined ? null : Math.round((b - a) * 100) / 100;
  }
  return spent;
}
