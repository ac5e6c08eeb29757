/** The CPU a local PostgreSQL server spends, for benchmarks that price the server's side too. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { rowsOf } from '@/db/client';
import type { TestDatabase } from '@/test/db';

/** Linux's USER_HZ: the unit of the CPU times in /proc/<pid>/stat. */
const CLOCK_TICKS = 100;

/** utime, stime, cutime, cstime and the parent's pid of a process, from /proc (undefined when it is gone or unreadable). */
function procTimes(pid: string): { own: number; children: number; ppid: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the command name, which is in parentheses and may hold spaces: state, ppid, …
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: fields[1]!, own: Number(fields[11]) + Number(fields[12]), children: Number(fields[13]) + Number(fields[14]) };
  } catch {
    return undefined;
  }
}

/**
 * A reader of the CPU seconds the PostgreSQL server has used so far (postmaster, its live
 * processes, and those it has reaped), when the server runs on this machine and its data
 * directory and processes can be read; undefined otherwise (a remote server).
 */
export async function serverCpu(scratch: TestDatabase): Promise<(() => number) | undefined> {
  try {
    const [row] = rowsOf<{ dir: string }>(await scratch.db.execute(sql`SELECT current_setting('data_directory') AS dir`));
    const postmaster = readFileSync(path.join(row!.dir, 'postmaster.pid'), 'utf8').split('\n')[0]!.trim();
    if (!procTimes(postmaster)) return undefined;
    return () => {
      const main = procTimes(postmaster);
      let ticks = main ? main.own + main.children : 0;
      for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
        const child = procTimes(pid);
        if (child?.ppid === postmaster) ticks += child.own;
      }
      return ticks / CLOCK_TICKS;
    };
  } catch {
    return undefined;
  }
}
