// Root, real kernel, tracepoint hook: the path in an event is decided in the kernel at syscall exit,
// so a process that moves (chdir) or exits before user space looks still gets its real path, a
// failed open gets its absolute path joined lexically, and a kill-path policy cannot be walked
// around by spelling (relative, symlink, "..", "//", a dirfd, openat2).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import type { CapturedEvent } from '../../contract/src/event';
import { toEcsHere as toEcs } from '../utils/kernel';
import { startCapture, tempDir } from '../utils/kernel';

interface Exit {
  status: number;
  stdout: string;
  stderr: string;
  pid: number;
}

/** Runs a command; the exit status is 128+signal when it was killed. */
async function run(cmd: string, args: string[], cwd = '/'): Promise<Exit> {
  const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const status = await new Promise<number>((r) => child.on('exit', (code, sig) => r(code ?? 128 + os.constants.signals[sig!])));
  return { status, stdout, stderr, pid: child.pid! };
}

const sh = (script: string, cwd?: string) => run('/bin/sh', ['-c', script], cwd);
const py = (script: string, ...args: string[]) => run('python3', ['-c', script, ...args]);

/** Waits until the drain timer has handed over what the kernel wrote. */
const settle = () => sleep(150);

t.test('chdir right after an open does not move the path: the event says A/f, resolved in the kernel', async (t) => {
  const dir = fs.realpathSync(tempDir(t));
  for (const d of ['a', 'b']) {
    fs.mkdirSync(path.join(dir, d));
    fs.writeFileSync(path.join(dir, d, 'f'), d);
  }
  const { events } = startCapture(t, { filters: { includeComms: ['python3'] } });
  // Opens "f" and "gone" in A, moves to B and stays alive: a /proc/<pid>/cwd reader would see B.
  const r = await py(
    String.raw`
import os, sys, time
os.chdir(sys.argv[1]); fd = os.open("f", os.O_RDONLY)
try: os.open("gone", os.O_RDONLY)
except OSError: pass
os.chdir(sys.argv[2]); print(os.getpid(), flush=True); time.sleep(0.5)
`,
    `${dir}/a`,
    `${dir}/b`,
  );
  t.equal(r.status, 0, r.stderr);
  await settle();
  const mine = events.filter((e) => e.pid === Number(r.stdout.trim()));
  const f = mine.filter((e) => e.asPassed?.toString() === 'f');
  t.equal(f.length, 1, 'one event for the open of "f"');
  t.equal(f[0]?.resolvedPath.toString(), `${dir}/a/f`, 'the directory the open ran in, not the one the process moved to');
  t.equal(f[0]?.resolution, 'kernel');
  t.equal(toEcs(f[0]!).file.path, `${dir}/a/f`);
  t.equal(toEcs(f[0]!).filewarden.path.as_passed, 'f', 'the name as passed is kept next to it');
  const gone = mine.filter((e) => e.asPassed?.toString() === 'gone');
  t.equal(gone[0]?.resolvedPath.toString(), `${dir}/a/gone`, 'the failed open too');
  t.equal(gone[0]?.ret, -2, 'ENOENT');
  t.equal(gone[0]?.pathLexical, true, 'flagged: its last component was joined lexically');
  t.equal(toEcs(gone[0]!).filewarden.path.lexical, true, 'and the document says so');
});

t.test('2,000 short-lived `sh -c "cd X && cat f"` processes: every event has the absolute kernel path, none unavailable', async (t) => {
  const dir = fs.realpathSync(tempDir(t));
  fs.mkdirSync(path.join(dir, 'x'));
  fs.writeFileSync(path.join(dir, 'x', 'f'), 'f');
  const N = 2000;
  const { events, capture } = startCapture(t, { filters: { includeComms: ['cat'] } });
  const r = await sh(`i=0; while [ $i -lt ${N} ]; do sh -c 'cd ${dir}/x && cat f' >/dev/null || exit 1; i=$((i+1)); done`);
  t.equal(r.status, 0, r.stderr);
  await capture.close();
  const forF = events.filter((e) => e.asPassed?.toString() === 'f' || e.resolvedPath.toString() === `${dir}/x/f`);
  t.equal(forF.length, N, `one event per cat (${forF.length})`);
  const wrong = forF.filter((e) => e.resolvedPath.toString() !== `${dir}/x/f` || e.resolution !== 'kernel');
  t.same(wrong.map((e) => `${e.resolvedPath} ${e.resolution}`).slice(0, 5), [], 'every one is the absolute path, resolved in the kernel');
  t.equal(forF.filter((e) => e.resolution === 'unavailable').length, 0, '0 unavailable');
  const stats = capture.stats();
  t.equal(stats.unresolved, 0, 'the unresolved counter stays 0');
  t.equal(stats.procResolved, 0, 'and nothing fell back to /proc');
  t.equal(stats.dropped, 0);
});

t.test('--kill-path DIR/secret cannot be walked around: every spelling is killed and recorded once with the real path', async (t) => {
  const dir = fs.realpathSync(tempDir(t));
  fs.chmodSync(dir, 0o755); // nobody must reach the file to get EACCES rather than a lookup error
  const secret = path.join(dir, 'secret');
  fs.writeFileSync(secret, 'secret', { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'other'), 'other');
  fs.mkdirSync(path.join(dir, 'sub'));
  const elsewhere = tempDir(t);
  fs.symlinkSync(secret, path.join(elsewhere, 'alias'));
  fs.symlinkSync('secret', path.join(dir, 'link'));
  const base = path.basename(dir);
  const { events } = startCapture(t, { policy: { killPaths: [secret] } });

  const dirfdPy = String.raw`
import os, sys
d = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
os.open("secret", os.O_RDONLY, dir_fd=d)
print("survived")
`;
  const openat2Py = String.raw`
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
class How(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]
d = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
r = libc.syscall(437, d, b"sub/../secret", ctypes.byref(How(os.O_RDONLY, 0, 0)), 24)
print("survived", r, ctypes.get_errno())
`;
  const nobody = ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'];
  const forms: { label: string; go: () => Promise<Exit>; comm: string; asPassed: string; ret: 'fd' | number }[] = [
    { label: 'cat DIR/secret', go: () => sh(`cat ${secret}`), comm: 'cat', asPassed: secret, ret: 'fd' },
    { label: 'cd DIR && cat secret', go: () => sh(`cd ${dir} && cat secret`), comm: 'cat', asPassed: 'secret', ret: 'fd' },
    { label: 'a symlink elsewhere', go: () => sh(`cat ${elsewhere}/alias`), comm: 'cat', asPassed: `${elsewhere}/alias`, ret: 'fd' },
    { label: 'a relative symlink beside it', go: () => sh(`cat link`, dir), comm: 'cat', asPassed: 'link', ret: 'fd' },
    { label: 'DIR/../DIR/secret', go: () => sh(`cat ${dir}/../${base}/secret`), comm: 'cat', asPassed: `${dir}/../${base}/secret`, ret: 'fd' },
    { label: '//DIR//secret', go: () => sh(`cat /${dir}//secret`), comm: 'cat', asPassed: `/${dir}//secret`, ret: 'fd' },
    { label: 'dirfd-relative openat', go: () => py(dirfdPy, dir), comm: 'python3', asPassed: 'secret', ret: 'fd' },
    { label: 'openat2 with a dirfd and ".."', go: () => py(openat2Py, dir), comm: 'python3', asPassed: 'sub/../secret', ret: 'fd' },
    { label: 'EACCES as nobody, relative', go: () => sh(`cd ${dir} && ${nobody.join(' ')} cat secret`), comm: 'cat', asPassed: 'secret', ret: -13 },
  ];
  for (const f of forms) {
    const before = events.length;
    const r = await f.go();
    await settle();
    t.equal(r.status, 137, `${f.label}: killed (exit 137)`);
    t.notMatch(r.stdout, /survived/, `${f.label}: nothing ran after the open`);
    const hits = events.slice(before).filter((e) => e.resolvedPath.toString() === secret && e.comm === f.comm);
    t.equal(hits.length, 1, `${f.label}: one event, with the real path ${secret}`);
    const e = hits[0];
    if (!e) continue;
    t.equal(e.action, 'kill', `${f.label}: action kill`);
    t.equal(e.resolution, 'kernel', `${f.label}: resolved in the kernel`);
    t.equal((e.asPassed ?? e.path).toString(), f.asPassed, `${f.label}: the name as passed kept`);
    if (f.ret === 'fd') t.ok(e.ret >= 0, `${f.label}: the open ran (the kill comes with the syscall done)`);
    else t.equal(e.ret, f.ret, `${f.label}: the failed attempt is judged and killed too`);
    t.equal(toEcs(e).filewarden.enforcement?.caveat !== undefined, true, `${f.label}: the document says the syscall ran`);
  }
  const neighbour = await sh(`cd ${dir} && cat other`);
  t.equal(neighbour.status, 0, 'a neighbour of the secret is not killed');
  const viaDots = await sh(`cd ${dir}/sub && cat ../other`);
  t.equal(viaDots.status, 0, 'nor reached through ".."');
});

t.test('failed opens get their absolute path: ENOENT after cd (lexical), EACCES as nobody', async (t) => {
  const dir = fs.realpathSync(tempDir(t));
  fs.chmodSync(dir, 0o755);
  fs.mkdirSync(path.join(dir, 'sub'));
  fs.writeFileSync(path.join(dir, 'secret'), 's', { mode: 0o600 });
  const { events } = startCapture(t, { filters: { includeComms: ['cat'] } });
  t.not((await sh(`cd ${dir}/sub && cat ./nothere`)).status, 0);
  t.not((await sh(`cd ${dir}/sub && cat ..//sub/../gone`)).status, 0);
  t.not((await sh(`cd ${dir} && setpriv --reuid=nobody --regid=nogroup --clear-groups cat secret`)).status, 0);
  t.not((await sh(`setpriv --reuid=nobody --regid=nogroup --clear-groups cat ${dir}/secret`)).status, 0);
  await settle();
  const find = (p: string): CapturedEvent[] => events.filter((e) => e.resolvedPath.toString() === p && e.ret < 0);
  const [enoent] = find(`${dir}/sub/nothere`);
  t.equal(enoent?.ret, -2, 'ENOENT of a relative name after cd: its absolute path');
  t.equal(enoent?.pathLexical, true, 'flagged lexical');
  t.equal(enoent?.asPassed?.toString(), './nothere');
  const [dots] = find(`${dir}/gone`);
  t.equal(dots?.ret, -2, '"..", "//" and "." folded in the kernel');
  t.equal(dots?.pathLexical, true);
  const eacces = find(`${dir}/secret`);
  t.equal(eacces.length, 2, 'both EACCES attempts as nobody, relative and absolute, have the absolute path');
  for (const e of eacces) {
    t.equal(e.ret, -13, 'EACCES');
    t.equal(e.uid, 65534, 'as nobody');
    t.equal(e.resolution, 'kernel');
  }
});

t.test('bind mounts and hard links: a file policy holds by inode, a directory policy through any mount of it; events show the path reached and the inode', async (t) => {
  const dir = fs.realpathSync(tempDir(t));
  const secret = path.join(dir, 'secret');
  fs.writeFileSync(secret, 'secret');
  const vault = path.join(dir, 'vault');
  fs.mkdirSync(vault);
  fs.writeFileSync(path.join(vault, 'inside'), 'inside');
  fs.writeFileSync(path.join(dir, 'neighbour'), 'n');
  const elsewhere = fs.realpathSync(tempDir(t));
  const hardLink = path.join(elsewhere, 'hard-link');
  fs.linkSync(secret, hardLink);
  // Bind mounts in this namespace, unmounted before the directories go.
  const dirMount = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-bind-dir-'));
  const vaultMount = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-bind-vault-'));
  const fileMount = path.join(elsewhere, 'file-mount');
  fs.writeFileSync(fileMount, '');
  // The other direction: the protected path is itself a bind mount, and its files are read at their source.
  const source = path.join(dir, 'source');
  fs.mkdirSync(source);
  fs.writeFileSync(path.join(source, 'served'), 'served');
  const served = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-bind-served-'));
  t.teardown(() => {
    for (const m of [dirMount, vaultMount, fileMount, served]) run('umount', [m]);
    return sleep(200).then(() => {
      fs.rmSync(dirMount, { recursive: true, force: true });
      fs.rmSync(vaultMount, { recursive: true, force: true });
      fs.rmSync(served, { recursive: true, force: true });
    });
  });
  for (const [src, dst] of [[dir, dirMount], [vault, vaultMount], [secret, fileMount], [source, served]]) {
    const m = await run('mount', ['--bind', src, dst]);
    t.equal(m.status, 0, `mount --bind ${src} ${dst}: ${m.stderr.trim()}`);
  }
  const { events } = startCapture(t, { policy: { killPaths: [secret, `${vault}/`, `${served}/`] } });
  const ino = (p: string): number => Number(fs.statSync(p).ino);
  const forms: { label: string; reached: string; file: string }[] = [
    { label: 'a hard link elsewhere', reached: hardLink, file: secret },
    { label: 'a bind mount of the directory', reached: path.join(dirMount, 'secret'), file: secret },
    { label: 'a bind mount of the file itself', reached: fileMount, file: secret },
    { label: 'a bind mount of a protected directory (prefix policy)', reached: path.join(vaultMount, 'inside'), file: path.join(vault, 'inside') },
    { label: 'the protected directory reached through a bind mount of its parent', reached: path.join(dirMount, 'vault', 'inside'), file: path.join(vault, 'inside') },
    { label: 'a protected bind mount read at its source', reached: path.join(source, 'served'), file: path.join(source, 'served') },
  ];
  for (const f of forms) {
    const before = events.length;
    const r = await sh(`cat ${f.reached}`);
    await settle();
    t.equal(r.status, 137, `${f.label}: killed (exit 137)`);
    t.notMatch(r.stdout, /secret|inside|served/, `${f.label}: nothing read`);
    const hits = events.slice(before).filter((e) => e.comm === 'cat' && Number(e.ino) === ino(f.file));
    t.equal(hits.length, 1, `${f.label}: one event for the file's inode`);
    const e = hits[0];
    if (!e) continue;
    t.equal(e.resolvedPath.toString(), f.reached, `${f.label}: the path the kernel reached`);
    t.equal(e.action, 'kill', `${f.label}: action kill`);
  }
  const neighbour = await sh(`cat ${dirMount}/neighbour`);
  t.equal(neighbour.status, 0, 'a neighbour reached through the bind mount is not killed');
});

t.test('a protected file replaced under its name: the new inode is protected and the old one released at once (inotify), not at the next 2 s refresh', async (t) => {
  const dir = fs.realpathSync(tempDir(t));
  const secret = path.join(dir, 'token');
  fs.writeFileSync(secret, 'v1');
  const oldName = path.join(dir, 'old-inode');
  fs.linkSync(secret, oldName); // keeps the old inode alive, and reachable, after the replacement
  const { capture } = startCapture(t, { policy: { killPaths: [secret] } });
  t.equal((await sh(`cat ${oldName}`)).status, 137, 'before: the protected inode is killed under any name');
  const fresh = path.join(dir, 'token.new');
  fs.writeFileSync(fresh, 'v2');
  fs.renameSync(fresh, secret);
  // The watch's refresh, not the timer's: counted only when the directory's change started it.
  for (let i = 0; i < 100 && capture.stats().policyWatchRefreshes === 0; i++) await sleep(20);
  t.ok(capture.stats().policyWatchRefreshes >= 1, 'the rename started a refresh');
  const old = await sh(`cat ${oldName}`);
  t.equal(old.status, 0, 'the old inode, no longer at the protected name, is released');
  t.equal(old.stdout, 'v1');
  t.equal((await sh(`cat ${secret}`)).status, 137, 'the new file at the protected name is killed');
});
