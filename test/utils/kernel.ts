// Shared harness for the kernel tests: a capture that is always closed at teardown, a Python
// workload runner (optionally under strace, the ground truth), and strace output parsing.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { Capture, type CaptureOptions } from '../../collector/src/capture/capture';
import type { CapturedEvent } from '../../contract/src/event';
import { type EcsOpenDocument, toEcs } from '../../contract/src/event-document';
import { abiOf } from '../../contract/src/tables';

export interface Captured {
  events: CapturedEvent[];
  capture: Capture;
}

/**
 * A capture for one test, closed at teardown whatever happens, so a failure never hangs. Opens only
 * unless `ops` says otherwise: the tests of opens count every event their workloads cause, and each
 * operation's tracepoints take time to attach (file-operations.test.ts covers the others).
 */
export function startCapture(t: Test, opts: CaptureOptions = {}): Captured {
  const events: CapturedEvent[] = [];
  const capture = new Capture({ hooks: 'tracepoint', batchDelayMs: 10, ops: ['open'], ...opts }, (batch) => events.push(...batch));
  t.teardown(() => capture.close());
  return { events, capture };
}

/** A temporary directory removed at teardown; rm(1) walks trees deeper than PATH_MAX, fs.rmSync cannot. */
export function tempDir(t: Test, prefix = 'fw-kernel-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => void spawnSync('rm', ['-rf', dir]));
  return dir;
}

export interface StraceOpen {
  pid: number;
  syscall: 'open' | 'openat' | 'openat2' | 'creat';
  /** AT_FDCWD is -100; undefined for open and creat. */
  dirfd?: number;
  name: Buffer;
  /** fd, or -errno. */
  ret: number;
  /** With `strace -yy`: the path strace read for the dirfd (AT_FDCWD: the cwd) at the call. */
  dirPath?: Buffer;
  /** With `strace -yy`: the path of the returned fd, as strace read it from /proc after the call. */
  retPath?: Buffer;
}

const ERRNO = os.constants.errno as Record<string, number>;

const hexBytes = (hex: string): Buffer => Buffer.from(hex.replace(/\\x/g, ''), 'hex');

/** Parses `strace -f -qq -xx [-yy] -s 8192 -e trace=open,openat,openat2,creat` output. */
export function parseStrace(text: string): StraceOpen[] {
  const out: StraceOpen[] = [];
  const X = '((?:\\\\x[0-9a-f]{2})*)';
  const re = new RegExp(
    `^(\\d+)\\s+(openat2|openat|open|creat)\\((?:(AT_FDCWD|-?\\d+)(?:<${X}>)?, )?"${X}"(\\.\\.\\.)?.*\\)\\s+=\\s+(-?\\d+)(?:<${X}>)?(?:\\s+(E[A-Z0-9]+))?`,
  );
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (!m) continue;
    const [, pid, syscall, dirfd, dirHex, hex, , ret, retHex, errname] = m;
    const o: StraceOpen = {
      pid: Number(pid),
      syscall: syscall as StraceOpen['syscall'],
      dirfd: dirfd === undefined ? undefined : dirfd === 'AT_FDCWD' ? -100 : Number(dirfd),
      name: hexBytes(hex!),
      ret: Number(ret) < 0 ? -(ERRNO[errname!] ?? 0) : Number(ret),
    };
    if (dirHex !== undefined) o.dirPath = hexBytes(dirHex);
    if (retHex !== undefined) o.retPath = hexBytes(retHex);
    out.push(o);
  }
  return out;
}

export interface WorkloadRun<R> {
  report: R;
  strace: StraceOpen[];
}

/**
 * Runs a Python workload (argv after the script), under strace when asked; its stdout is JSON.
 * Asynchronous on purpose: the event loop keeps taking batches (and reading /proc) meanwhile.
 */
export async function runWorkload<R>(t: Test, script: string, args: string[], opts: { strace?: boolean } = {}): Promise<WorkloadRun<R>> {
  const dir = tempDir(t, 'fw-strace-');
  const traceFile = path.join(dir, 'trace.txt');
  // -yy: strace prints the path behind each fd (the dirfd, the returned fd), the ground truth for paths.
  const cmd = opts.strace
    ? ['strace', ['-f', '-qq', '-xx', '-yy', '-s', '8192', '-e', 'trace=open,openat,openat2,creat', '-o', traceFile, 'python3', '-c', script, ...args]]
    : ['python3', ['-c', script, ...args]];
  const child = spawn(cmd[0] as string, cmd[1] as string[], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (status !== 0) throw new Error(`workload failed (${status}): ${stderr}`);
  return { report: JSON.parse(stdout) as R, strace: opts.strace ? parseStrace(fs.readFileSync(traceFile, 'utf8')) : [] };
}

/** The document of an event captured here: its flag bits named with this machine's kernel ABI. */
export const toEcsHere = (e: CapturedEvent): EcsOpenDocument => toEcs(e, abiOf(process.arch));
