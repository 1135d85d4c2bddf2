// Root, real kernel, tracepoint hook: a process in another mount namespace or under chroot is
// recorded with the path it sees (file.path) and the file's path on the host (filewarden.path.host),
// checked here against the host itself (same device and inode); a file the host cannot reach has no
// host path and says why, never a guessed one.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { fromWire, toWire } from '../../contract/src/wire-v1';
import type { CapturedEvent } from '../../contract/src/event';
import { toEcsHere as toEcs } from '../utils/kernel';
import { startCapture, tempDir } from '../utils/kernel';

interface Exit {
  status: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[]): Promise<Exit> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((r) => child.on('exit', (code, sig) => r({ status: code ?? 128 + os.constants.signals[sig!], stdout, stderr })));
}

/** Runs a shell script in a new mount namespace (private propagation: its mounts stay in it). */
const inNamespace = (script: string) => run('unshare', ['-m', '--propagation', 'private', '/bin/sh', '-c', script]);

const settle = () => sleep(200);
const hostMntns = fs.statSync('/proc/self/ns/mnt').ino;
const devOf = (e: CapturedEvent) => `${e.dev >>> 20}:${e.dev & 0xfffff}`;
/** stat -c %d:%i on the host, with the device in the kernel's major:minor form. */
function hostId(p: string): string {
  const st = fs.statSync(p, { bigint: true });
  const major = Number(((st.dev >> 8n) & 0xfffn) | ((st.dev >> 32n) & ~0xfffn));
  const minor = Number((st.dev & 0xffn) | ((st.dev >> 12n) & ~0xffn));
  return `${major}:${minor}:${st.ino}`;
}

/** A tree under /tmp: a/f (the file), b (a bind-mount point), t (a tmpfs point). */
function tree(t: Parameters<typeof tempDir>[0]): string {
  const dir = fs.realpathSync(tempDir(t, 'fw-mntns-'));
  for (const d of ['a', 'b', 't']) fs.mkdirSync(path.join(dir, d));
  fs.writeFileSync(path.join(dir, 'a', 'f'), 'f\n');
  return dir;
}

/** DIR/root with a static busybox in bin/ and one file in etc/: a tree to chroot into. */
function chrootTree(dir: string, file: string, content: string): string {
  const root = path.join(dir, 'root');
  fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
  fs.mkdirSync(path.join(root, 'etc'));
  fs.copyFileSync('/bin/busybox', path.join(root, 'bin', 'busybox'));
  fs.chmodSync(path.join(root, 'bin', 'busybox'), 0o755);
  fs.writeFileSync(path.join(root, 'etc', file), content);
  return root;
}

t.test('a bind mount inside a mount namespace: file.path is the process view b/f, filewarden.path.host is a/f, the same inode on the host', async (t) => {
  const dir = tree(t);
  const { events } = startCapture(t, { filters: { includeComms: ['cat'] } });
  // stat inside the namespace gives the ground truth of the file the process read.
  const r = await inNamespace(`mount --bind ${dir}/a ${dir}/b && cat ${dir}/b/f >/dev/null && stat -c %i ${dir}/b/f`);
  t.equal(r.status, 0, r.stderr);
  await settle();
  const ev = events.filter((e) => e.resolvedPath.toString() === `${dir}/b/f`);
  t.equal(ev.length, 1, 'one event for the open of b/f');
  const e = ev[0]!;
  t.not(e.mntnsId, hostMntns, 'the process is in another mount namespace');
  t.equal(e.ino.toString(), r.stdout.trim(), 'the event has the inode the process read');
  t.equal(e.hostPath?.toString(), `${dir}/a/f`, 'the host path is where the host sees that file');
  t.equal(e.hostPathStatus, 'verified');
  t.equal(hostId(`${dir}/a/f`), `${devOf(e)}:${e.ino}`, 'the host path names the same device and inode on the host');
  t.notOk(fs.existsSync(`${dir}/b/f`), 'and the process path does not exist on the host');
  const doc = toEcs(e);
  t.equal(doc.file.path, `${dir}/b/f`);
  t.equal(doc.filewarden.path.host, `${dir}/a/f`);
  t.equal(doc.filewarden.path.host_status, 'verified');
  t.strictSame(toEcs(fromWire(toWire(e, 1))).filewarden.path, doc.filewarden.path, 'both survive the wire');
});

t.test('a chrooted process: file.path is the path inside the chroot, filewarden.path.host the path on the host', async (t) => {
  const dir = tree(t);
  const root = chrootTree(dir, 'fw-chroot-file', 'x\n');
  const { events } = startCapture(t, { filters: { includeComms: ['busybox'] } });
  const r = await run('chroot', [root, '/bin/busybox', 'cat', '/etc/fw-chroot-file']);
  t.equal(r.status, 0, r.stderr);
  await settle();
  const ev = events.filter((e) => e.resolvedPath.toString() === '/etc/fw-chroot-file');
  t.equal(ev.length, 1, 'one event, with the path as the chrooted process sees it');
  const e = ev[0]!;
  t.equal(e.mntnsId, hostMntns, 'chroot alone keeps the mount namespace');
  t.equal(e.hostPath?.toString(), `${root}/etc/fw-chroot-file`);
  t.equal(e.hostPathStatus, 'verified');
  t.equal(hostId(`${root}/etc/fw-chroot-file`), `${devOf(e)}:${e.ino}`, 'the same device and inode on the host');
});

t.test('a tmpfs mounted only inside the namespace: no host path, flagged not_mounted, never a guessed one', async (t) => {
  const dir = tree(t);
  const { events } = startCapture(t, { filters: { includeComms: ['cat'] } });
  const r = await inNamespace(`mount -t tmpfs fwtmp ${dir}/t && echo x > ${dir}/t/f && cat ${dir}/t/f >/dev/null`);
  t.equal(r.status, 0, r.stderr);
  await settle();
  const ev = events.filter((e) => e.resolvedPath.toString() === `${dir}/t/f`);
  t.equal(ev.length, 1);
  t.equal(ev[0]?.hostPath, undefined, 'no host path');
  t.equal(ev[0]?.hostPathStatus, 'not_mounted');
  const doc = toEcs(ev[0]!);
  t.equal(doc.filewarden.path.host, undefined);
  t.equal(doc.filewarden.path.host_status, 'not_mounted');
});

t.test('a failed open inside the namespace carries the process view only, flagged no_file', async (t) => {
  const dir = tree(t);
  const { events } = startCapture(t, { filters: { includeComms: ['cat'] } });
  const r = await inNamespace(`mount --bind ${dir}/a ${dir}/b; cat ${dir}/b/nope 2>/dev/null; true`);
  t.equal(r.status, 0, r.stderr);
  await settle();
  const ev = events.filter((e) => e.resolvedPath.toString() === `${dir}/b/nope`);
  t.equal(ev.length, 1);
  t.equal(ev[0]?.ret, -2, 'ENOENT');
  t.equal(ev[0]?.hostPath, undefined);
  t.equal(ev[0]?.hostPathStatus, 'no_file');
});

t.test('a host process gets no host path and no host status: file.path is the host path', async (t) => {
  const dir = tree(t);
  const { events } = startCapture(t, { filters: { includeComms: ['cat'] } });
  const r = await run('cat', [`${dir}/a/f`]);
  t.equal(r.status, 0, r.stderr);
  await settle();
  const ev = events.filter((e) => e.resolvedPath.toString() === `${dir}/a/f`);
  t.equal(ev.length, 1);
  t.equal(ev[0]?.mntnsId, hostMntns);
  t.notOk(ev[0]?.otherTree);
  t.equal(ev[0]?.fsPath, undefined, 'the kernel did not walk twice');
  t.equal(ev[0]?.hostPathStatus, undefined);
  t.equal(toEcs(ev[0]!).filewarden.path.host, undefined);
});

t.test('a kill policy on a host path stops a process that reaches the file through a bind mount in its own mount namespace', async (t) => {
  const dir = tree(t);
  fs.writeFileSync(path.join(dir, 'a', 'secret'), 's\n');
  const { events } = startCapture(t, { policy: { killPaths: [`${dir}/a/secret`] }, filters: { includeComms: ['cat'] } });
  const other = await inNamespace(`mount --bind ${dir}/a ${dir}/b && exec cat ${dir}/b/f`);
  t.equal(other.status, 0, 'another file under the bind mount is read as before');
  const r = await inNamespace(`mount --bind ${dir}/a ${dir}/b && exec cat ${dir}/b/secret`);
  t.equal(r.status, 137, 'killed (SIGKILL)');
  t.equal(r.stdout, '', 'before it could print the file');
  await settle();
  const ev = events.filter((e) => e.resolvedPath.toString() === `${dir}/b/secret`);
  t.equal(ev.length, 1);
  t.equal(ev[0]?.action, 'kill');
  t.equal(ev[0]?.hostPath?.toString(), `${dir}/a/secret`, 'the event shows the file it is on the host');
});

t.test('a kill policy on a host path stops a chrooted process that opens it by its in-chroot name', async (t) => {
  const dir = tree(t);
  const root = chrootTree(dir, 'secret', 's\n');
  const { events } = startCapture(t, { policy: { killPaths: [`${root}/etc/`] }, filters: { includeComms: ['busybox'] } });
  const r = await run('chroot', [root, '/bin/busybox', 'cat', '/etc/secret']);
  t.equal(r.status, 137, 'killed');
  await settle();
  const ev = events.filter((e) => e.resolvedPath.toString() === '/etc/secret');
  t.equal(ev[0]?.action, 'kill');
  t.equal(ev[0]?.hostPath?.toString(), `${root}/etc/secret`);
});
