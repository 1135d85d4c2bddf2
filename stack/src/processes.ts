// Process helpers for starting and stopping exactly the processes the stack started: a pid is
// only trusted while its command line still matches, so a recycled pid is never signalled.
import fs from 'node:fs';
import { spawn } from 'node:child_process';

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The NUL-separated /proc/<pid>/cmdline as an argv array, or null when the process is gone. */
export function cmdline(pid: number): string[] | null {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/cmdline`);
    if (raw.length === 0) return null; // zombie or kernel thread
    return raw.toString('utf8').split('\0').filter((s) => s.length > 0);
  } catch {
    return null;
  }
}

/** True when `pid` is alive and its command line contains `marker`. */
export function isOurProcess(pid: number | undefined, marker: string): boolean {
  if (!pid || !isAlive(pid)) return false;
  const argv = cmdline(pid);
  return argv !== null && argv.join(' ').includes(marker);
}

export function readPidFile(file: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(file, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * SIGTERM, then SIGKILL after `graceMs`. Resolves to how the process ended. Both services flush
 * on SIGTERM (Redis fsyncs its AOF, Elasticsearch closes its shards), so the grace is generous.
 */
export async function stopPid(pid: number, graceMs: number): Promise<'terminated' | 'killed' | 'gone'> {
  if (!isAlive(pid)) return 'gone';
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid) || cmdline(pid) === null) return 'terminated';
    await sleep(100);
  }
  process.kill(pid, 'SIGKILL');
  while (isAlive(pid) && cmdline(pid) !== null) await sleep(50);
  return 'killed';
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Set when the program could not be started at all (for example ENOENT). */
  spawnError?: NodeJS.ErrnoException;
}

/** Runs a program to completion and collects its output; never throws for a non-zero exit. */
export function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; uid?: number; gid?: number; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      uid: opts.uid,
      gid: opts.gid,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: opts.timeoutMs,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err: NodeJS.ErrnoException) => resolve({ code: null, stdout, stderr, spawnError: err }));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The last `n` lines of a text, for error details. */
export function tail(text: string, n: number): string {
  const lines = text.trimEnd().split('\n');
  return lines.slice(-n).join('\n');
}

export function tailFile(file: string, n: number): string {
  try {
    return tail(fs.readFileSync(file, 'utf8'), n);
  } catch {
    return `(no ${file})`;
  }
}
