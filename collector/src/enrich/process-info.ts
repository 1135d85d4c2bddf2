// process.executable, process.args and container.id, read from /proc while the process lives.
// Read once per process per batch: a batch spans milliseconds, an exec in between is rare and the
// event's own comm (from the kernel) stays authoritative for process.name.
import fs from 'node:fs';
import type { ProcessInfo } from '../../../contract/src/event';

/** Field 22 of /proc/<pid>/stat text; the comm before it may hold spaces and parentheses. */
export function startTicksOf(stat: string): number | undefined {
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const v = Number(f[19]);
  return Number.isSafeInteger(v) ? v : undefined;
}

// Runtimes name a container's cgroup after its 64-hex id: docker-<id>.scope, /docker/<id>,
// cri-containerd-<id>.scope, crio-<id>.scope, libpod-<id>.scope, /kubepods/.../<id>.
const CONTAINER_ID = /(?:^|[/-])([0-9a-f]{64})(?:\.scope)?$/;

/** The container id in /proc/<pid>/cgroup text, or undefined for a process outside containers. */
export function containerIdFromCgroup(text: string): string | undefined {
  for (const line of text.split('\n')) {
    // "hierarchy-id:controllers:path"; the path may itself contain ':'.
    const parts = line.split(':');
    if (parts.length < 3) continue;
    const p = parts.slice(2).join(':');
    for (const seg of p.split('/').reverse()) {
      const m = CONTAINER_ID.exec(seg);
      if (m) return m[1];
    }
  }
  return undefined;
}

/** Splits /proc/<pid>/cmdline (NUL-separated, usually NUL-terminated) into arguments. */
export function parseCmdline(buf: Buffer): string[] {
  if (buf.length === 0) return [];
  const end = buf[buf.length - 1] === 0 ? buf.length - 1 : buf.length;
  return buf.subarray(0, end).toString('utf8').split('\0');
}

export class ProcessInfoReader {
  private cache = new Map<number, ProcessInfo | null>();
  private misses = 0;

  constructor(private readonly procRoot = '/proc') {}

  /** Forget everything: called at each batch so a pid reused or exec'd later is read again. */
  reset(): void {
    this.cache.clear();
  }

  /** Processes that had exited before they could be read (cumulative). */
  get unavailable(): number {
    return this.misses;
  }

  /** Info for a thread group, or undefined when the process is gone. */
  info(pid: number): ProcessInfo | undefined {
    let v = this.cache.get(pid);
    if (v === undefined) {
      v = this.read(pid);
      if (v === null) this.misses++;
      this.cache.set(pid, v);
    }
    return v ?? undefined;
  }

  private read(pid: number): ProcessInfo | null {
    const dir = `${this.procRoot}/${pid}`;
    const info: ProcessInfo = {};
    try {
      info.args = parseCmdline(fs.readFileSync(`${dir}/cmdline`));
    } catch {
      return null;
    }
    try {
      info.executable = fs.readlinkSync(`${dir}/exe`);
    } catch {
      // Kernel threads have no exe; a process that exits between the two reads loses only this.
    }
    try {
      const t = startTicksOf(fs.readFileSync(`${dir}/stat`, 'utf8'));
      if (t !== undefined) info.startTicks = t;
    } catch {
      // gone in between: keep what was read
    }
    try {
      info.containerId = containerIdFromCgroup(fs.readFileSync(`${dir}/cgroup`, 'utf8'));
    } catch {
      // gone in between: keep what was read
    }
    // A zombie or kernel thread has an empty cmdline; report no args rather than [].
    if (info.args && info.args.length === 0) delete info.args;
    return info;
  }
}
