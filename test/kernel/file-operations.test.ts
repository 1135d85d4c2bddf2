// Root, real kernel, tracepoint hook: every delete, rename, mode and owner change, extended
// attribute change, link, symlink, directory, device node and truncate a workload makes, as strace
// records it, is exactly one event with the same process, syscall and result, and the path strace
// shows (the dirfd's or cwd's path with the name joined, or the fd's path): successes and failures,
// relative, dirfd-relative and "..", "//" names, processes that chdir and a process that exits at
// once. A rename carries its old path, a link its existing file, a symlink its target as stored.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import t, { type Test } from 'tap';
import type { CapturedEvent, OperationName } from '../../contract/src/event';
import { toEcsHere as toEcs, startCapture, tempDir } from '../utils/kernel';
import { normalizeAbsolute } from '../../collector/src/resolve/path-resolver';

const WORKLOAD = String.raw`
import os, sys, json, ctypes, time
d = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)
def sc(nr, *a):
    r = libc.syscall(nr, *a)
    return r if r >= 0 else -ctypes.get_errno()
def tryop(f, *a, **k):
    try: f(*a, **k)
    except OSError: pass
def touch(p, data=b""):
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644); os.write(fd, data); os.close(fd)
os.chdir(d)
touch("a", b"12345")
touch("victim", b"x")
dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
os.rename("a", "b")                                      # rename, relative to the cwd
os.rename("b", "victim")                                 # over an existing file
os.rename("victim", "c", src_dir_fd=dfd, dst_dir_fd=dfd)  # renameat
sc(316, -100, b"c", -100, b"c2", 1)                      # renameat2 RENAME_NOREPLACE
tryop(os.rename, "missing", "x")                         # ENOENT
os.chmod("c2", 0o4755)                                   # chmod adds setuid
os.chmod("c2", 0o644, dir_fd=dfd)                        # fchmodat
fd = os.open("c2", os.O_RDWR)
os.fchmod(fd, 0o600)                                     # fchmod: the old mode is known
os.fchown(fd, 1, 2)                                      # fchown
os.ftruncate(fd, 3)                                      # ftruncate
os.setxattr(fd, "user.fd", b"1")                         # fsetxattr
os.removexattr(fd, "user.fd")                            # fremovexattr
os.close(fd)
os.chown("c2", 3, -1)                                    # chown, group unchanged
os.lchown("c2", 0, 0)                                    # lchown
os.chown("c2", 4, 4, dir_fd=dfd)                         # fchownat
os.truncate(d + "//c2", 0)                               # truncate, "//" in the name
os.setxattr("c2", "user.x", b"v")                        # setxattr
os.removexattr("./c2", "user.x")                         # removexattr
os.link("c2", "hard")                                    # link
os.link("c2", "hard2", src_dir_fd=dfd, dst_dir_fd=dfd)   # linkat
tryop(os.link, "c2", "hard")                             # EEXIST
os.symlink("/etc/shadow", "sym")                         # symlink: the target as stored
os.symlink("../../etc/passwd", "sym2", dir_fd=dfd)       # symlinkat
os.mkdir("sub")                                          # mkdir
os.mkdir("sub2", 0o700, dir_fd=dfd)                      # mkdirat
os.mkfifo("fifo")                                        # mknodat
os.chdir("sub")                                          # a process that chdirs
touch("inner")
os.unlink("../sub/inner")                                # "..": the join folds it
tryop(os.rmdir, "../c2")                                 # rmdir of a file: ENOTDIR
os.chdir(d)
os.rmdir("sub")                                          # rmdir
os.rmdir("sub2", dir_fd=dfd)                             # unlinkat AT_REMOVEDIR
pid = os.fork()
if pid == 0:  # a non-root process: EPERM/EACCES, then exits at once
    os.setgid(65534); os.setuid(65534)
    tryop(os.chmod, d + "/c2", 0o777)
    tryop(os.unlink, d + "/hard2")
    os._exit(0)
os.waitpid(pid, 0)
pid2 = os.fork()
if pid2 == 0:  # a short-lived process: unlinks and is gone before anyone reads /proc
    os.unlink(d + "/hard2")
    os._exit(0)
os.waitpid(pid2, 0)
for n in ["c2", "hard", "sym", "sym2", "fifo"]:
    os.unlink(n, dir_fd=dfd)                             # unlinkat
tryop(os.unlink, "nope")                                 # ENOENT
print(json.dumps({"pid": os.getpid(), "children": [pid, pid2]}))
`;

const OPS = [
  'unlink', 'unlinkat', 'rmdir', 'rename', 'renameat', 'renameat2', 'chmod', 'fchmod', 'fchmodat', 'chown', 'fchown', 'lchown', 'fchownat',
  'setxattr', 'lsetxattr', 'fsetxattr', 'removexattr', 'lremovexattr', 'fremovexattr', 'link', 'linkat', 'symlink', 'symlinkat',
  'mkdir', 'mkdirat', 'mknod', 'mknodat', 'truncate', 'ftruncate',
];

interface StraceOp {
  pid: number;
  syscall: string;
  args: string[];
  ret: number;
}

const ERRNO = os.constants.errno as Record<string, number>;
const hexBytes = (hex: string): Buffer => Buffer.from(hex.replace(/\\x/g, ''), 'hex');

/** `strace -f -qq -xx -yy` lines of the traced syscalls and chdir. Every string is hex, so ", " splits the arguments. */
function parse(text: string): StraceOp[] {
  const out: StraceOp[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+)\s+(\w+)\((.*)\)\s+=\s+(-?\d+)(?:<[^>]*>)?(?:\s+(E[A-Z0-9]+))?/.exec(line);
    if (!m) continue;
    const [, pid, syscall, args, ret, errname] = m;
    out.push({ pid: Number(pid), syscall: syscall!, args: args!.split(', '), ret: Number(ret) < 0 ? -(ERRNO[errname!] ?? 0) : Number(ret) });
  }
  return out;
}

const str = (a: string): Buffer => {
  const m = /^"((?:\\x[0-9a-f]{2})*)"$/.exec(a);
  if (!m) throw new Error(`not a string argument: ${a}`);
  return hexBytes(m[1]!);
};
/** The path strace -yy printed for a dirfd or an fd (AT_FDCWD prints the cwd). */
const fdPath = (a: string): Buffer => {
  const m = /^(?:AT_FDCWD|\d+)<((?:\\x[0-9a-f]{2})*)>$/.exec(a);
  if (!m) throw new Error(`not an fd with its path: ${a}`);
  return hexBytes(m[1]!);
};

// Where each syscall's names are: [name, its dirfd] and [second name, its dirfd]; fd for the fd ones.
type Spec = { name?: number; dirfd?: number; second?: number; dirfd2?: number; fd?: number; target?: number };
const SPECS: Record<string, Spec> = {
  unlink: { name: 0 }, rmdir: { name: 0 }, unlinkat: { dirfd: 0, name: 1 },
  rename: { second: 0, name: 1 }, renameat: { dirfd2: 0, second: 1, dirfd: 2, name: 3 }, renameat2: { dirfd2: 0, second: 1, dirfd: 2, name: 3 },
  chmod: { name: 0 }, fchmod: { fd: 0 }, fchmodat: { dirfd: 0, name: 1 },
  chown: { name: 0 }, lchown: { name: 0 }, fchown: { fd: 0 }, fchownat: { dirfd: 0, name: 1 },
  setxattr: { name: 0 }, lsetxattr: { name: 0 }, fsetxattr: { fd: 0 }, removexattr: { name: 0 }, lremovexattr: { name: 0 }, fremovexattr: { fd: 0 },
  link: { second: 0, name: 1 }, linkat: { dirfd2: 0, second: 1, dirfd: 2, name: 3 },
  symlink: { target: 0, name: 1 }, symlinkat: { target: 0, dirfd: 1, name: 2 },
  mkdir: { name: 0 }, mkdirat: { dirfd: 0, name: 1 }, mknod: { name: 0 }, mknodat: { dirfd: 0, name: 1 },
  truncate: { name: 0 }, ftruncate: { fd: 0 },
};

/** The path a name means: absolute as is, else joined to its dirfd's path or the cwd; "." ".." "//" folded. */
function expectedPath(name: Buffer, base: Buffer): string {
  return normalizeAbsolute(name[0] === 0x2f ? name : Buffer.concat([base, Buffer.from('/'), name])).toString('latin1');
}

async function straceWorkload(t: Test, dir: string) {
  const traceFile = path.join(tempDir(t, 'fw-ops-strace-'), 'trace.txt');
  const child = spawn('strace', ['-f', '-qq', '-xx', '-yy', '-s', '8192', '-e', `trace=chdir,${OPS.join(',')}`, '-o', traceFile, 'python3', '-c', WORKLOAD, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (status !== 0) throw new Error(`workload failed (${status}): ${err}`);
  return { report: JSON.parse(out) as { pid: number; children: number[] }, calls: parse(fs.readFileSync(traceFile, 'utf8')) };
}

t.test('every file operation strace sees is exactly one event with the same pid, syscall, result and path', async (t) => {
  const dir = tempDir(t, 'fw-ops-');
  const { events, capture } = startCapture(t, { ops: undefined, filters: { includePaths: [`${dir}/`] } });
  const { report, calls } = await straceWorkload(t, dir);
  await capture.close();

  // The ground truth: strace's calls, with each pid's cwd followed through its chdirs.
  const cwd = new Map<number, Buffer>();
  const want: { pid: number; syscall: string; ret: number; path: string; second?: string; target?: string; call: StraceOp }[] = [];
  for (const c of calls) {
    const here = cwd.get(c.pid) ?? Buffer.from(dir);
    if (c.syscall === 'chdir') {
      if (c.ret === 0) cwd.set(c.pid, Buffer.from(expectedPath(str(c.args[0]!), here), 'latin1'));
      continue;
    }
    const s = SPECS[c.syscall];
    if (!s) continue;
    const base = (i?: number): Buffer => (i === undefined ? here : fdPath(c.args[i]!));
    const p = s.fd !== undefined ? fdPath(c.args[s.fd]!).toString('latin1') : expectedPath(str(c.args[s.name!]!), base(s.dirfd));
    const w: (typeof want)[number] = { pid: c.pid, syscall: c.syscall, ret: c.ret, path: p, call: c };
    if (s.second !== undefined) w.second = expectedPath(str(c.args[s.second]!), base(s.dirfd2));
    if (s.target !== undefined) w.target = str(c.args[s.target]!).toString('latin1');
    want.push(w);
  }
  const pids = new Set([report.pid, ...report.children]);
  // python3 may be a shim (pyenv) whose own processes only chdir: only the workload's operations count.
  t.strictSame([...new Set(want.map((c) => c.pid))].filter((p) => !pids.has(p)), [], 'every operation strace saw is the workload\'s');
  t.ok(want.length >= 38, `strace recorded the workload's operations (${want.length})`);
  t.ok(want.some((w) => w.ret < 0) && want.some((w) => w.ret === 0), 'failures and successes both');

  const got = events.filter((e) => e.op !== 'open' && e.op !== 'modify' && pids.has(e.pid)).sort((a, b) => (a.tsNs < b.tsNs ? -1 : 1));
  t.equal(got.length, want.length, 'one event per call: none missing, none extra');
  const byPid = (list: { pid: number }[], pid: number) => list.filter((x) => x.pid === pid);
  for (const pid of pids) {
    const w = byPid(want, pid) as typeof want;
    const g = byPid(got, pid) as CapturedEvent[];
    t.equal(g.length, w.length, `pid ${pid}: as many events as calls`);
    for (let i = 0; i < Math.min(w.length, g.length); i++) {
      const e = g[i]!;
      const x = w[i]!;
      const doc = toEcs(e);
      const label = `${x.syscall} ${x.path} = ${x.ret}`;
      t.strictSame(
        { syscall: e.syscall, ret: e.ret, path: doc.file.path, resolution: e.resolution },
        { syscall: x.syscall, ret: x.ret, path: x.path, resolution: 'kernel' },
        `${label}: the same call, its result and the kernel's path`,
      );
      if (x.second !== undefined) t.equal(x.syscall.startsWith('rename') ? doc.filewarden.original_path : doc.file.target_path, x.second, `${label}: the second path`);
      if (x.target !== undefined) t.equal(doc.file.target_path, x.target, `${label}: the symlink's target as stored`);
      t.equal(doc.event.outcome, x.ret < 0 ? 'failure' : 'success', `${label}: outcome`);
    }
  }

  // Field checks on calls whose arguments strace shows.
  const docs = got.map((e) => toEcs(e));
  const one = (syscall: string, pred: (d: (typeof docs)[number]) => boolean = () => true) => docs.filter((d) => d.filewarden.syscall === syscall && pred(d));
  t.strictSame(one('chmod').map((d) => [d.filewarden.mode, d.filewarden.change?.special]).slice(0, 1), [['04755', ['setuid']]], 'chmod: the new mode and its setuid bit');
  t.strictSame(one('fchmod').map((d) => [d.filewarden.mode, d.filewarden.change?.old_mode]), [['0600', '0100644']], 'fchmod: the mode before, from the fd');
  t.strictSame(one('fchown').map((d) => [d.filewarden.change?.uid, d.filewarden.change?.gid, d.filewarden.change?.old_uid]), [['1', '2', '0']], 'fchown: new and old owner');
  t.strictSame(one('chown').map((d) => [d.filewarden.change?.uid, d.filewarden.change?.gid]), [['3', undefined]], 'chown -1: the group unchanged is left out');
  t.strictSame(one('ftruncate').map((d) => d.filewarden.change?.length), ['3'], 'ftruncate: the length');
  t.strictSame(one('renameat2').map((d) => d.filewarden.change?.flags), [{ value: 1, names: ['RENAME_NOREPLACE'] }], 'renameat2: its flags by name');
  t.strictSame(one('fsetxattr').map((d) => d.filewarden.change?.xattr), ['user.fd'], 'fsetxattr: the attribute name');
  t.strictSame(one('unlinkat', (d) => d.filewarden.operation === 'unlink').map((d) => d.event.action), Array(5).fill('deletion'), 'unlinkat of a file is an unlink, a deletion');
  t.strictSame(
    docs.filter((d) => d.filewarden.operation === 'rmdir').map((d) => [d.filewarden.syscall, d.file.path, d.event.outcome]),
    [['rmdir', `${dir}/c2`, 'failure'], ['rmdir', `${dir}/sub`, 'success'], ['unlinkat', `${dir}/sub2`, 'success']],
    'rmdir and unlinkat(AT_REMOVEDIR) are rmdir; "../c2" from a subdirectory joins onto its parent',
  );
  t.strictSame(one('mknodat').map((d) => d.filewarden.change?.node_type), ['fifo'], 'mknod: the node type');
  const lexical = docs.filter((d) => d.filewarden.path.lexical === true).length;
  t.equal(lexical, docs.filter((d) => !['fchmod', 'fchown', 'ftruncate', 'fsetxattr', 'fremovexattr'].includes(d.filewarden.syscall)).length, 'every name-based path is flagged as a lexical join; fd-based ones are walked');
});

t.test('--ops selects the operations in the kernel: unlinkat is recorded as unlink and not as rmdir when only unlink is asked', async (t) => {
  const dir = tempDir(t, 'fw-ops-sel-');
  const { events, capture } = startCapture(t, { ops: ['unlink'], filters: { includePaths: [`${dir}/`] } });
  // Another process: the collector never traces its own.
  const sh = spawn('/bin/sh', ['-c', 'cd "$1" && echo x > f && mkdir d && mv f g && rm g && rmdir d', 'sh', dir], { stdio: 'inherit' });
  await new Promise((r) => sh.on('close', r));
  await new Promise((r) => setTimeout(r, 200));
  await capture.close();
  t.strictSame(
    events.map((e) => [e.op, toEcs(e).file.path]),
    [['unlink', `${dir}/g`]],
    'only the unlink: no open, mkdir, rename or rmdir event',
  );
});

t.test('a deny on a protected log kills whoever deletes, renames or truncates it here (tracepoint: the syscall ran), and says so', async (t) => {
  const dir = tempDir(t, 'fw-ops-deny-');
  const log = path.join(dir, 'protected.log');
  const { events, capture } = startCapture(t, { ops: ['unlink', 'rename', 'truncate'], policy: { denyPaths: [log] } });
  const run = (cmd: string, args: string[]) =>
    new Promise<{ pid: number; signal: NodeJS.Signals | null }>((resolve) => {
      const c = spawn(cmd, args, { stdio: 'ignore' });
      c.on('close', (_code, signal) => resolve({ pid: c.pid!, signal }));
    });
  const results: [string, NodeJS.Signals | null, boolean][] = [];
  // truncate(2) by name: truncate(1) opens the file first, and the policy judges that open (a kill
  // before any truncation), which is another promise.
  for (const [cmd, args] of [['truncate', ['python3', '-c', 'import os, sys; os.truncate(sys.argv[1], 0)', log]], ['mv', ['mv', log, `${log}.1`]], ['rm', ['rm', '-f', log]]] as [string, string[]][]) {
    fs.writeFileSync(log, 'evidence\n');
    const r = await run(args[0]!, args.slice(1));
    results.push([cmd, r.signal, fs.existsSync(log) && fs.readFileSync(log, 'utf8') === 'evidence\n']);
    const mine = () => events.filter((e) => e.pid === r.pid && e.op !== 'open');
    for (let i = 0; i < 100 && mine().length === 0; i++) await new Promise((res) => setTimeout(res, 20));
    const docs = mine().map((e) => toEcs(e));
    t.strictSame(
      docs.map((d) => [d.filewarden.operation, d.file.path, d.filewarden.action, d.filewarden.enforcement?.requested, d.event.outcome]),
      [[cmd === 'mv' ? 'rename' : cmd === 'rm' ? 'unlink' : 'truncate', cmd === 'mv' ? `${log}.1` : log, 'kill', 'deny', 'success']],
      `${cmd}: one event, the deny carried out as a kill after the syscall succeeded`,
    );
    if (cmd === 'mv') t.equal(docs[0]?.filewarden.original_path, log, 'the rename is judged on its old name');
    t.match(docs[0]?.filewarden.enforcement?.caveat ?? '', /syscall ran to completion/, `${cmd}: the caveat says the syscall ran`);
  }
  await capture.close();
  t.strictSame(results, [['truncate', 'SIGKILL', false], ['mv', 'SIGKILL', false], ['rm', 'SIGKILL', false]], 'each process was killed, and the file was changed anyway: the tracepoint cannot refuse');
});

t.test('an entry acts on the operations it names: the log is appended to, and its deletion killed; a longer prefix naming other operations inherits the shorter one\'s for the rest', async (t) => {
  const dir = tempDir(t, 'fw-ops-per-op-');
  const log = path.join(dir, 'app.log');
  const inner = path.join(dir, 'k');
  fs.mkdirSync(inner);
  const { events, capture } = startCapture(t, {
    ops: ['open', 'unlink', 'rename', 'truncate', 'link'],
    policy: {
      entries: [
        { path: `${dir}/`, action: 'deny', ops: ['unlink', 'rename', 'truncate'] },
        { path: `${inner}/`, action: 'kill', ops: ['open'] },
      ],
    },
  });
  const run = (args: string[]) =>
    new Promise<{ pid: number; signal: NodeJS.Signals | null }>((resolve) => {
      const c = spawn(args[0]!, args.slice(1), { stdio: 'ignore' });
      c.on('close', (_code, signal) => resolve({ pid: c.pid!, signal }));
    });
  const linked = path.join(os.tmpdir(), `fw-ops-link-${process.pid}`);
  t.teardown(() => fs.rmSync(linked, { force: true }));
  fs.writeFileSync(log, 'one\n');
  fs.writeFileSync(path.join(inner, 'f'), 'inner\n');
  const got: [string, NodeJS.Signals | null, string[]][] = [];
  for (const [label, args] of [
    ['append to the log', ['sh', '-c', `echo two >> ${log}`]],
    ['read the log', ['cat', log]],
    ['truncate the log by an O_TRUNC open (a truncate too)', ['sh', '-c', `exec sh -c ': > ${log}'`]],
    ['hard-link the log away (link is carried with it)', ['ln', log, linked]],
    ['rm the log', ['rm', '-f', log]],
    ['rm under the longer prefix (inherits unlink: deny)', ['rm', '-f', path.join(inner, 'f')]],
    ['read under the longer prefix (its own open: kill)', ['cat', path.join(dir, 'k', 'g')]],
  ] as [string, string[]][]) {
    if (label.startsWith('read under')) fs.writeFileSync(path.join(inner, 'g'), 'g\n');
    const r = await run(args);
    const under = (e: CapturedEvent) => [e.resolvedPath.toString(), e.second?.bytes.toString() ?? ''].find((p) => p.startsWith(dir));
    const mine = () => events.filter((e) => e.pid === r.pid && under(e));
    for (let i = 0; i < 100 && mine().length === 0 && r.signal; i++) await new Promise((res) => setTimeout(res, 20));
    got.push([label, r.signal, mine().filter((e) => e.action !== 'allow').map((e) => `${e.op} ${under(e)!.slice(dir.length)} ${e.action}${e.denyAsKill ? ' (deny)' : ''}`)]);
  }
  t.strictSame(
    got,
    [
      ['append to the log', null, []],
      ['read the log', null, []],
      ['truncate the log by an O_TRUNC open (a truncate too)', 'SIGKILL', ['open /app.log kill (deny)']],
      ['hard-link the log away (link is carried with it)', 'SIGKILL', ['link /app.log kill (deny)']],
      ['rm the log', 'SIGKILL', ['unlink /app.log kill (deny)']],
      ['rm under the longer prefix (inherits unlink: deny)', 'SIGKILL', ['unlink /k/f kill (deny)']],
      ['read under the longer prefix (its own open: kill)', 'SIGKILL', ['open /k/g kill']],
    ],
    'each operation gets the action of the longest prefix that names it',
  );
  t.throws(() => capture.setPolicy([{ path: `${dir}/`, action: 'deny', ops: ['delete' as OperationName] }]), /^entries\[0\]\.ops\[0\] must be one of open, unlink, .*, not "delete"$/, 'an unknown operation is refused with one line');
  t.throws(() => capture.setPolicy([{ path: `${dir}/`, action: 'deny', ops: [] }]), /entries\[0\]\.ops must be a non-empty array/, 'so is an empty list');
  fs.writeFileSync(log, 'again\n');
  const rm = await run(['rm', '-f', log]);
  t.equal(rm.signal, 'SIGKILL', 'and the policy in force stays');
  await capture.close();
  t.notOk(fs.existsSync(log), 'the rm ran (tracepoint: the kill comes after)');
});

t.test('moving the directory of a protected prefix, or any directory above it, is judged as moving the protected files; its neighbours and opens of it are not', async (t) => {
  const dir = tempDir(t, 'fw-ops-move-');
  const audit = path.join(dir, 'logs', 'audit');
  const { events, capture } = startCapture(t, { ops: ['open', 'rename'], policy: { denyPaths: [`${audit}/`] } });
  const run = (args: string[]) =>
    new Promise<{ pid: number; signal: NodeJS.Signals | null }>((resolve) => {
      const c = spawn(args[0]!, args.slice(1), { stdio: 'ignore' });
      c.on('close', (_code, signal) => resolve({ pid: c.pid!, signal }));
    });
  const got: [string, NodeJS.Signals | null, string[]][] = [];
  const cases: [string, string[]][] = [
    ['ls the parent (an open of it)', ['ls', path.join(dir, 'logs')]],
    ['mv a neighbour directory', ['mv', path.join(dir, 'logs', 'auditx'), path.join(dir, 'n2')]],
    ['mv the protected directory', ['mv', audit, path.join(dir, 'a2')]],
    ['mv a directory above it', ['mv', path.join(dir, 'logs'), path.join(dir, 'l2')]],
    ['mv a relative name after cd', ['sh', '-c', `cd ${dir} && mv logs l3`]],
  ];
  for (const [label, args] of cases) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(audit, { recursive: true });
    fs.mkdirSync(path.join(dir, 'logs', 'auditx'));
    fs.writeFileSync(path.join(audit, 'audit.log'), 'evidence\n');
    const r = await run(args);
    const mine = () => events.filter((e) => (e.pid === r.pid || e.ppid === r.pid) && e.op === 'rename');
    if (label.startsWith('mv')) for (let i = 0; i < 100 && mine().length === 0; i++) await new Promise((res) => setTimeout(res, 20));
    const opened = events.filter((e) => e.pid === r.pid && e.op === 'open' && e.action !== 'allow');
    got.push([label, r.signal, [...mine(), ...opened].map((e) => `${e.op} ${e.second?.bytes.toString().slice(dir.length) ?? ''} ${e.action}`)]);
  }
  await capture.close();
  t.strictSame(
    got,
    [
      ['ls the parent (an open of it)', null, []],
      ['mv a neighbour directory', null, ['rename /logs/auditx allow']],
      ['mv the protected directory', 'SIGKILL', ['rename /logs/audit kill']],
      ['mv a directory above it', 'SIGKILL', ['rename /logs kill']],
      ['mv a relative name after cd', null, ['rename /logs kill']],
    ],
    'the renames that carry the protected prefix away are killed (after they ran: tracepoint), the others are not',
  );
});

const WRITES = String.raw`
import os, sys, subprocess
d = sys.argv[1]
os.chdir(d)
def w(name, chunks, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC):
    fd = os.open(name, flags, 0o644)
    for c in chunks: os.write(fd, c)
    os.close(fd)
w("n-bytes", [b"a" * 1000, b"b" * 24, b"c"])
w("zero-write", [b""])                    # one write of 0 bytes: nothing modified
w("opened-only", [])                      # opened for writing, never written
fd = os.open("shared", os.O_WRONLY | os.O_CREAT, 0o644)
if os.fork() == 0:                        # two processes write through one open file
    os.write(fd, b"child"); os._exit(0)
os.write(fd, b"parent"); os.wait(); os.close(fd)
w("twice", [b"1"]); w("twice", [b"22"], os.O_WRONLY | os.O_APPEND)   # two sessions, one file
fd = os.open("iov", os.O_RDWR | os.O_CREAT, 0o644)
os.writev(fd, [b"ab", b"cde"]); os.pwrite(fd, b"XY", 10); os.close(fd)
subprocess.run(["dd", "if=/dev/zero", "of=dd.out", "bs=4096", "count=50", "status=none"], check=True)
subprocess.run(["cp", "dd.out", "cp.out"], check=True)
subprocess.run(["sh", "-c", "echo redirected > sh.out"], check=True)
subprocess.run(["tar", "-cf", "a.tar", "n-bytes", "iov"], check=True)
os.mkdir("x")
subprocess.run(["tar", "-xf", "../a.tar"], cwd="x", check=True)
fd = os.open("left-open", os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"exit ends me")
os._exit(0)                               # no close: the exit ends the session
`;

t.test("a write session is one modification event whose bytes and write calls are strace's, for real tools too", async (t) => {
  const dir = tempDir(t, 'fw-mod-');
  const { events, capture } = startCapture(t, { ops: ['modify'], filters: { includePaths: [`${dir}/`] } });
  const traceFile = path.join(tempDir(t, 'fw-mod-strace-'), 'trace.txt');
  const child = spawn('strace', ['-f', '-qq', '-xx', '-yy', '-s', '0', '-e', 'trace=write,pwrite64,writev,pwritev,pwritev2,sendfile,copy_file_range,splice', '-o', traceFile, 'python3', '-c', WRITES, dir], { stdio: 'inherit' });
  t.equal(await new Promise<number | null>((resolve) => child.on('close', resolve)), 0, 'the workload ran');
  await new Promise((r) => setTimeout(r, 300));
  await capture.close();

  // strace: the bytes each call wrote to a file under dir (the fd's path from -yy; the target fd of
  // copy_file_range and splice is the third argument).
  const want = new Map<string, { bytes: number; writes: number }>();
  for (const c of parse(fs.readFileSync(traceFile, 'utf8'))) {
    const fdArg = c.syscall === 'copy_file_range' || c.syscall === 'splice' ? c.args[2]! : c.args[0]!;
    const m = /^\d+<((?:\\x[0-9a-f]{2})*)>$/.exec(fdArg);
    if (!m || c.ret <= 0) continue;
    const p = hexBytes(m[1]!).toString('latin1');
    if (!p.startsWith(`${dir}/`)) continue;
    const x = want.get(p) ?? { bytes: 0, writes: 0 };
    x.bytes += c.ret;
    x.writes += 1;
    want.set(p, x);
  }
  const got = new Map<string, { bytes: number; writes: number }>();
  const mods = events.filter((e) => e.op === 'modify').map((e) => toEcs(e));
  for (const d of mods) {
    const x = got.get(d.file.path) ?? { bytes: 0, writes: 0 };
    x.bytes += Number(d.filewarden.change?.bytes_written);
    x.writes += d.filewarden.change?.writes ?? 0;
    got.set(d.file.path, x);
  }
  const sorted = (m: Map<string, { bytes: number; writes: number }>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  t.strictSame(sorted(got), sorted(want), 'per file: the bytes and write calls strace saw, nothing for files never written');
  t.strictSame(want.get(`${dir}/n-bytes`), { bytes: 1025, writes: 3 }, 'strace itself: 1,025 bytes in 3 writes');
  t.notOk(got.has(`${dir}/zero-write`) || got.has(`${dir}/opened-only`), 'a 0-byte write or no write is no modification');
  t.strictSame(mods.filter((d) => d.file.path === `${dir}/twice`).map((d) => d.filewarden.change?.bytes_written), ['1', '2'], 'two sessions of one file: two events');
  t.strictSame(mods.filter((d) => d.file.path === `${dir}/shared`).map((d) => [d.filewarden.change?.bytes_written, d.filewarden.change?.writes]), [['11', 2]], 'one open file written by two processes: one session');
  t.strictSame(mods.filter((d) => d.file.path === `${dir}/left-open`).map((d) => d.filewarden.syscall), ['exit'], 'a file left open ends with its process');
  for (const p of ['dd.out', 'cp.out', 'sh.out', 'x/n-bytes', 'x/iov']) t.ok(got.has(`${dir}/${p}`), `${p}: the real tool's writes are a modification`);
  t.equal(mods.every((d) => d.event.action === 'modification' && d.file.inode !== undefined && d.filewarden.path.lexical === undefined), true, 'walked from the file itself: exact, with its inode');
});
