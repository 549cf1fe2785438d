import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const TICKS_PER_SEC = 100;

/** CPU seconds (user + system) a process and its finished children used so far, from /proc. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[11] = utime, fields[12] = stime (fields 14 and 15 of proc(5), counted after the comm).
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SEC;
}

/** CPU seconds of a process and its live descendants (e.g. a proxy primary and its workers). */
export function cpuSecondsTree(pid: number): number {
  let total = cpuSeconds(pid);
  let children: string[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    /* gone */
  }
  for (const c of children) total += cpuSecondsTree(Number(c));
  return total;
}
