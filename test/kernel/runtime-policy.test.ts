// The in-kernel policy changed while capture runs, on this host's kernel (tracepoint): a deny that
// cannot refuse kills instead and says so, scopes by comm and by executable, kill targets with the
// pid-reuse guard, and the pidfd kill. The lsm side (EPERM) runs in the kernel matrix (test/vm).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { kernelDev } from '../../collector/src/resolve/host-path';
import { startTicksOf } from '../../collector/src/enrich/process-info';
import { native } from '../../collector/src/probe/native';
import { startCapture, tempDir } from '../utils/kernel';

interface Exit {
  status: number;
  stderr: string;
  pid: number;
}

/** Runs `script` under `shell` (a path to sh or a copy of it); the exit status is 128+signal when killed. */
async function run(shell: string, script: string, cwd: string): Promise<Exit> {
  const child = spawn(shell, ['-c', script], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const status = await new Promise<number>((r) => child.on('exit', (code, sig) => r(code ?? 128 + os.constants.signals[sig!])));
  return { status, stderr, pid: child.pid! };
}

/** The start time the kill commands carry, read as the collector reads it. */
const startTicks = (pid: number): number => startTicksOf(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))!;

t.test('a deny entry added at run time kills the opener on the tracepoint hook, flags the event, and the syscall still ran', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'secret');
  fs.writeFileSync(file, 'content');
  const { events, capture } = startCapture(t, { filters: { includePaths: [`${dir}/`] } });
  const before = await run('/bin/sh', `true > ${file}; echo survived >&2`, dir);
  t.equal(before.status, 0, 'no policy yet: the shell runs on');
  capture.setPolicy([{ path: `${dir}/`, action: 'deny' }]);
  const r = await run('/bin/sh', `true > ${file}; echo survived >&2`, dir);
  t.equal(r.status, 137, 'SIGKILL before the next command');
  t.notMatch(r.stderr, /survived/);
  t.equal(fs.readFileSync(file, 'utf8'), '', 'the O_TRUNC open ran: only lsm can refuse it, and the event says so');
  await sleep(200);
  const e = events.find((x) => x.pid === r.pid && x.resolvedPath.toString() === file);
  t.ok(e, 'the open is recorded');
  t.equal(e?.action, 'kill');
  t.equal(e?.denyAsKill, true, 'flagged: a deny carried out as a kill');
  t.ok((e?.ret ?? -1) >= 0, 'the syscall returned an fd');
  capture.setPolicy([]);
  const after = await run('/bin/sh', `true > ${file}; echo survived >&2`, dir);
  t.equal(after.status, 0, 'an empty policy disarms it');
});

t.test('a comm-scoped entry hits only that comm, an executable-scoped one only that executable, and allow carves an exception', async (t) => {
  const dir = tempDir(t);
  fs.mkdirSync(path.join(dir, 'data', 'public'), { recursive: true });
  // A copy of dash under another name: another comm, and another executable (device, inode).
  const other = path.join(dir, 'othersh');
  fs.copyFileSync(fs.realpathSync('/bin/sh'), other);
  fs.chmodSync(other, 0o755);
  const st = fs.statSync(other, { bigint: true });
  const { capture } = startCapture(t, { filters: { includePaths: [`${dir}/`] } });

  capture.setPolicy([{ path: `${dir}/data/`, action: 'kill', comm: 'othersh' }]);
  t.equal((await run('/bin/sh', `: > ${dir}/data/a`, dir)).status, 0, 'sh is not othersh');
  t.equal((await run(other, `: > ${dir}/data/a; echo x >&2`, dir)).status, 137, 'othersh is killed');

  capture.setPolicy([
    { path: `${dir}/data/`, action: 'kill', exe: { dev: kernelDev(st.dev), ino: st.ino } },
    { path: `${dir}/data/public/`, action: 'allow', exe: { dev: kernelDev(st.dev), ino: st.ino } },
  ]);
  t.equal((await run('/bin/sh', `: > ${dir}/data/b`, dir)).status, 0, 'another executable is left alone');
  t.equal((await run(other, `: > ${dir}/data/public/c`, dir)).status, 0, 'the allow exception under the prefix');
  t.equal((await run(other, `: > ${dir}/data/b`, dir)).status, 137, 'that executable is killed');
});

t.test('a kill target dies at its next traced open, a reused pid (other start time) is spared, and killProcess checks the same', async (t) => {
  const dir = tempDir(t);
  const { events, capture } = startCapture(t, { filters: { includePaths: [`${dir}/`] } });
  // The shell waits for a line on stdin, then opens a file: the kill must come from the hook.
  const child = spawn('/bin/sh', ['-c', `read x; : > ${dir}/after; echo survived >&2`], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number>((r) => child.on('exit', (code, sig) => r(code ?? 128 + os.constants.signals[sig!])));
  await sleep(100);
  const pid = child.pid!;
  capture.addKillTarget(pid, startTicks(pid) + 1);
  child.stdin.write('go\n');
  await sleep(300);
  t.equal(fs.existsSync(`${dir}/after`), true, 'a start time that does not match: left alone');
  t.equal(await exited, 0);
  t.match(stderr, /survived/, 'and it ran to its end');
  t.equal(capture.removeKillTarget(pid), true);
  t.equal(capture.removeKillTarget(pid), false, 'gone from the list');

  const victim = spawn('/bin/sh', ['-c', `read x; : > ${dir}/victim; echo survived >&2`], { stdio: ['pipe', 'ignore', 'pipe'] });
  let vErr = '';
  victim.stderr.on('data', (d: Buffer) => (vErr += d.toString()));
  const vExit = new Promise<number>((r) => victim.on('exit', (code, sig) => r(code ?? 128 + os.constants.signals[sig!])));
  await sleep(100);
  capture.addKillTarget(victim.pid!, startTicks(victim.pid!));
  victim.stdin.write('go\n');
  t.equal(await vExit, 137, 'killed at the open');
  t.notMatch(vErr, /survived/);
  await sleep(200);
  const e = events.find((x) => x.pid === victim.pid && x.resolvedPath.toString() === `${dir}/victim`);
  t.equal(e?.action, 'kill');
  t.equal(e?.killTarget, true, 'the event says it was a kill target');
  capture.removeKillTarget(victim.pid!);

  const sleeper = spawn('sleep', ['30']);
  const sExit = new Promise<number>((r) => sleeper.on('exit', (code, sig) => r(code ?? 128 + os.constants.signals[sig!])));
  await sleep(50);
  const { killProcess } = native();
  t.equal(killProcess(sleeper.pid!, startTicks(sleeper.pid!) + 1), 'reused', 'another start time: refused');
  t.equal(killProcess(sleeper.pid!, startTicks(sleeper.pid!)), 'killed');
  t.equal(await sExit, 137);
  spawnSync('true');
  t.equal(killProcess(sleeper.pid!, 0), 'exited', 'a reaped process is gone');
});
