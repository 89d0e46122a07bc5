import { readFileSync } from 'node:fs';

/** USER_HZ: Linux reports process times in 1/100 s on every architecture we run on. */
const CLOCK_TICKS_PER_SECOND = 100;

export interface ProcStats {
  cpuSeconds: number;
  residentBytes: number;
  threads: number;
}

/**
 * CPU time, resident memory and threads of another process, from /proc (Linux). Read
 * from outside, so a wedged engine still reports what it costs. Undefined when gone.
 */
export function readProcStats(pid: number): ProcStats | undefined {
  let stat: string;
  let status: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name is in parentheses and may itself contain spaces or parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime 15, num_threads 20.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const threads = Number(fields[17]);
  const rssKb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? 0);
  return {
    cpuSeconds: (utime + stime) / CLOCK_TICKS_PER_SECOND,
    residentBytes: rssKb * 1024,
    threads,
  };
}
