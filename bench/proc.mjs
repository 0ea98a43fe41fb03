// CPU time of a process tree from /proc (Linux): utime + stime of a process and all its
// living descendants. NSD forks (xfrd → main → server), so its cost is the whole tree.
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

export const CLK_TCK =
  Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

function stat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)": state is field 3, ppid 4, utime 14, stime 15 (proc(5)).
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return undefined;
  }
}

/** pid and the pids of its living descendants. */
export function processTree(root) {
  const children = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = stat(name);
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push(Number(name));
    children.set(st.ppid, list);
  }
  const out = [];
  const todo = [root];
  while (todo.length) {
    const pid = todo.pop();
    out.push(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** CPU seconds used so far by the tree rooted at pid. */
export function treeCpuSeconds(root) {
  let ticks = 0;
  for (const pid of processTree(root)) ticks += stat(pid)?.ticks ?? 0;
  return ticks / CLK_TCK;
}

/**
 * CPU seconds the whole machine has spent so far (all cores; /proc/stat, proc(5)): in
 * processes (user + nice + system) and in interrupts (irq + softirq, where loopback UDP
 * delivery mostly runs, charged to no process).
 */
export function machineCpu() {
  const f = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return { processes: (f[0] + f[1] + f[2]) / CLK_TCK, interrupts: (f[5] + f[6]) / CLK_TCK };
}

/** CPU seconds used so far by one process, or undefined once it is gone. */
export function processCpuSeconds(pid) {
  const st = stat(pid);
  return st ? st.ticks / CLK_TCK : undefined;
}
