// The kernel matrix's checks, run by one node process on the kernel under test (inside a qemu
// guest, or on the host for the host column). Under TCG a node start costs seconds, so this is a
// plain compiled script, not tap: it writes one NDJSON line per cell and the host-side tap test
// (test/vm/kernel-matrix.test.ts) asserts them. Usage: node suite.js <kernel-name> <results.ndjson>
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { Capture } from '../../../collector/src/capture/capture';
import type { CapturedEvent, OperationName } from '../../../contract/src/event';
import { explainRefusal, selectHook } from '../../../collector/src/probe/hook-select';
import { HOOKS, type Hook, native, type PolicyEntry, type PolicyOptions } from '../../../collector/src/probe/native';
import { type Cell, HOOK_TESTS } from './cells';


const [kernel, resultsFile] = process.argv.slice(2);
if (!kernel || !resultsFile) {
  console.error('usage: suite.js <kernel-name> <results.ndjson>');
  process.exit(2);
}
const repo = path.resolve(__dirname, '..', '..', '..', '..');
const cells: Cell[] = [];
const record = (c: Omit<Cell, 'kernel'>): void => {
  const cell = { kernel, ...c };
  cells.push(cell);
  fs.appendFileSync(resultsFile, JSON.stringify(cell) + '\n');
  console.log(`fw-vm: ${cell.hook} ${cell.test}: ${cell.status} ${cell.detail}`);
};
const O_ACCMODE = 3;
const O_WRONLY = 1;
const O_CREAT = 0o100;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs the workload shell with the hook attached; returns its events under `dir`. */
interface Run {
  events: CapturedEvent[];
  /** Every process's events under `dir` (a subshell or setpriv child has its own pid). */
  all: CapturedEvent[];
  pid: number;
  /** The shell's exit code, or 128 + signal number as a shell would report it. */
  status: number;
  stderr: string;
  /** What collect prints about enforcing the operations other than open with this hook. */
  enforcement?: string;
}

async function capture(hook: Hook, dir: string, script: string, policy?: PolicyOptions, runtime?: PolicyEntry[], ops: OperationName[] = ['open']): Promise<Run> {
  const events: CapturedEvent[] = [];
  // Opens only by default: each other operation's tracepoints take long to attach under TCG (the
  // guests ran out of time with all of them); every operation is tested on the host kernel
  // (test/kernel/file-operations), the destructive ones here (operationsDenyCell).
  const cap = new Capture({ hooks: hook, batchDelayMs: 10, ops, filters: { includePaths: [`${dir}/`] }, policy }, (b) => events.push(...b));
  if (runtime) cap.setPolicy(runtime);
  const enforcement = cap.operationEnforcement();
  let status = -1;
  let stderr = '';
  try {
    // Asynchronous, and the shell lingers: relative names are resolved from its /proc cwd while it lives.
    const child = spawn('/bin/sh', ['-c', `echo $$ > ${dir}/pid; ${script}; sleep 1`], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    status = await new Promise<number>((r) => child.on('exit', (code, sig) => r(code ?? 128 + os.constants.signals[sig!])));
    await sleep(300);
  } finally {
    await cap.close();
  }
  const pid = Number(fs.readFileSync(path.join(dir, 'pid'), 'utf8'));
  return { events: events.filter((e) => e.pid === pid), all: events, pid, status, stderr, enforcement };
}

/** SIGKILL at the open: the shell dies (137) before its next command, and the event says kill. */
async function killCell(hook: Hook, dir: string): Promise<void> {
  fs.mkdirSync(path.join(dir, 'kill'));
  const r = await capture(hook, dir, `: > ${dir}/kill/victim; echo survived >&2`, { killPaths: [`${dir}/kill/`] });
  const e = r.events.find((x) => x.resolvedPath.toString() === `${dir}/kill/victim`);
  const ok = r.status === 137 && !r.stderr.includes('survived') && e?.action === 'kill';
  record({ hook, test: 'kill at open', status: ok ? 'pass' : 'fail', detail: `exit status ${r.status}; event action ${e?.action ?? 'missing'}${hook === 'lsm' ? `; file created: ${fs.existsSync(path.join(dir, 'kill', 'victim'))}` : ''}` });
}

/**
 * A deny entry, set at run time as a pushed rule would be. lsm: EPERM to the caller and the file
 * untouched, including an O_TRUNC open of a file with content. Any other hook: SIGKILL at the open,
 * the event flagged denyAsKill, and the O_TRUNC ran (the documented caveat).
 */
async function denyCell(hook: Hook, dir: string): Promise<void> {
  fs.mkdirSync(path.join(dir, 'deny'));
  const file = path.join(dir, 'deny', 'evidence');
  fs.writeFileSync(file, 'keep me');
  const entries = [{ path: `${dir}/deny/`, action: 'deny' as const }];
  if (hook !== 'lsm') {
    const r = await capture(hook, dir, `true > ${file}; echo survived >&2`, undefined, entries);
    const e = r.events.find((x) => x.resolvedPath.toString() === file);
    const content = fs.readFileSync(file, 'utf8');
    const ok = r.status === 137 && !r.stderr.includes('survived') && e?.action === 'kill' && e.denyAsKill && content === '';
    record({ hook, test: 'deny', status: ok ? 'pass' : 'fail', detail: `no lsm: killed instead (exit ${r.status}, event ${e?.action ?? 'missing'}, denyAsKill ${e?.denyAsKill}); the O_TRUNC ran: content ${JSON.stringify(content)}` });
    record({ hook, test: 'EPERM by deny, once', status: 'n/a', detail: 'only lsm refuses an open with EPERM; the other hooks kill (see deny)' });
    return;
  }
  const r = await capture(hook, dir, `true > ${file}; true < ${file}`, undefined, entries);
  const all = r.events.filter((x) => x.resolvedPath.toString() === file);
  const denied = all.filter((x) => x.action === 'deny');
  const eperm = (r.stderr.match(/Operation not permitted/g) ?? []).length;
  const content = fs.readFileSync(file, 'utf8');
  const ok = eperm === 2 && content === 'keep me' && denied.length === 2;
  record({ hook, test: 'deny', status: ok ? 'pass' : 'fail', detail: `EPERM: ${eperm} of 2 opens got EPERM; content after O_TRUNC: ${JSON.stringify(content)}; ${denied.length} deny events` });
  // The lsm hook recorded each refusal; the syscall exit, which sees the EPERM, must not record it again.
  const once = all.length === 2 && all.every((x) => x.hook === 'lsm' && x.action === 'deny');
  record({ hook, test: 'EPERM by deny, once', status: once ? 'pass' : 'fail', detail: `${all.length} events for 2 denied opens: ${all.map(describe).join('; ')}` });
}

/**
 * A deny entry on a directory of logs, and the destructive operations on them: a delete, a rename
 * away, a truncate(2), deletes by a relative name after cd, through a symlinked directory and
 * through a bind mount, and a rename of the whole directory (its whole-name entry). lsm: each refused with EPERM before the kernel acts (the path hooks judge the
 * dentry the kernel reached), every file intact, each operation recorded once (by the syscall exit)
 * with the lsm's deny. Any other hook: each process killed after its syscall ran (the caveat), the
 * event flagged denyAsKill; the names a tracepoint judges lexically (a symlinked directory, a bind
 * mount) are not stopped there, and the cell says so. Each record names the file as the kernel
 * reached it on lsm, kprobe and fexit (their path check's dentry walk: the symlinked directory's
 * real place), and as spelled, joined lexically, on tracepoint; so does an allowed chmod through a
 * symlink (the link's target, or the link as spelled).
 */
async function operationsDenyCell(hook: Hook, dir: string): Promise<void> {
  const test = 'operations: delete, rename, truncate denied';
  const logs = path.join(dir, 'logs');
  fs.mkdirSync(logs);
  for (const f of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'w']) fs.writeFileSync(path.join(logs, `${f}.log`), `keep ${f}`);
  fs.symlinkSync(logs, path.join(dir, 'logs-link'));
  fs.mkdirSync(path.join(dir, 'logs-bound'));
  const bound = spawnSync('mount', ['--bind', logs, path.join(dir, 'logs-bound')], { encoding: 'utf8' });
  if (bound.status !== 0) {
    record({ hook, test, status: 'fail', detail: `mount --bind: ${bound.stderr.trim()}` });
    return;
  }
  // [label, command, the file it acts on, operation, reachable by name (judged on tracepoint too),
  //  the record's name on lsm/kprobe/fexit and on tracepoint]
  const forms: [string, string, string, OperationName, boolean, string, string][] = [
    ['rm', `rm -f ${logs}/a.log`, 'a.log', 'unlink', true, `${logs}/a.log`, `${logs}/a.log`],
    ['mv away', `mv ${logs}/b.log ${dir}/moved.log`, 'b.log', 'rename', true, `${dir}/moved.log`, `${dir}/moved.log`],
    ['truncate(2)', `python3 -c "import os; os.truncate('${logs}/c.log', 0)"`, 'c.log', 'truncate', true, `${logs}/c.log`, `${logs}/c.log`],
    ['rm relative after cd', `cd ${logs} && rm -f d.log`, 'd.log', 'unlink', true, `${logs}/d.log`, `${logs}/d.log`],
    ['rm through a symlinked directory', `rm -f ${dir}/logs-link/e.log`, 'e.log', 'unlink', false, `${logs}/e.log`, `${dir}/logs-link/e.log`],
    ['rm through a bind mount', `rm -f ${dir}/logs-bound/f.log`, 'f.log', 'unlink', false, `${dir}/logs-bound/f.log`, `${dir}/logs-bound/f.log`],
    // Last: where it is not refused, the directory is gone for good. The bind mount is gone by then.
    ['mv the whole directory away', `umount ${dir}/logs-bound; mv ${logs} ${dir}/logs-moved`, '', 'rename', true, `${dir}/logs-moved`, `${dir}/logs-moved`],
  ];
  const script = forms.map(([, cmd], i) => `(${cmd}) 2> ${dir}/operr.${i}; echo $? > ${dir}/opst.${i}`).join('; ');
  let r: Run;
  try {
    // The entry names the destructive operations only: the log's writer goes on appending.
    r = await capture(hook, dir, `echo appended >> ${logs}/w.log; echo $? > ${dir}/append.st; ln -s ${logs}/w.log ${dir}/w-link; chmod 640 ${dir}/w-link; ( : > ${logs}/g.log ) 2> ${dir}/otrunc.err; echo $? > ${dir}/otrunc.st; ${script}`, undefined, [{ path: `${logs}/`, action: 'deny', ops: ['unlink', 'rename', 'truncate'] }], ['open', 'unlink', 'rename', 'chmod', 'truncate']);
  } finally {
    spawnSync('umount', [path.join(dir, 'logs-bound')]);
  }
  const lsm = hook === 'lsm';
  // kprobe and fexit judge on the kernel's security_path_* calls, as lsm does on its path hooks: the
  // name the kernel reached, whatever the spelling. Only the tracepoint hook joins names lexically.
  const kernelName = hook !== 'tracepoint';
  const wrong: string[] = [];
  const notes: string[] = [];
  const says = {
    lsm: 'operations: unlink, rename, chmod, truncate refused with EPERM by the lsm path hooks, before the kernel acts; modify is judged at its open',
    kprobe: "operations: unlink, rename, chmod, truncate judged on the kernel's security_path_* calls, by the name it reached (a deny is a kill as the kernel acts); modify is judged at its open",
    fexit: "operations: unlink, rename, chmod, truncate judged on the kernel's security_path_* calls, by the name it reached (a deny is a kill as the kernel acts); modify is judged at its open",
    tracepoint: 'operations: unlink, rename, chmod, truncate judged at the syscall exit (a deny is a kill after the syscall ran); modify is judged at its open',
  }[hook];
  if (r.enforcement !== says) wrong.push(`collect would say ${JSON.stringify(r.enforcement)}, not ${JSON.stringify(says)}`);
  // Read before the last form moves the directory (where it is not refused).
  const appended = fs.readFileSync(path.join(dir, 'append.st'), 'utf8').trim() === '0';
  const stillWriting = r.all.filter((e) => e.op === 'open' && e.resolvedPath.toString() === `${logs}/w.log`);
  if (!appended || stillWriting.length !== 1 || stillWriting[0]!.action !== 'allow') wrong.push(`append to a log: ${appended ? 'appended' : 'refused'}, events ${stillWriting.map(describe).join('; ')}`);
  // An O_TRUNC open truncates: judged as a truncate too (lsm: file_open sees O_TRUNC, the open is
  // refused and recorded once; the tracepoint: from the syscall's flags, a kill; kprobe and fexit:
  // the open is allowed, and its truncation, on the kernel's truncate check, is a kill recorded there).
  {
    const g = path.join(logs, 'g.log');
    const st = Number(fs.readFileSync(path.join(dir, 'otrunc.st'), 'utf8'));
    // Where the directory was not refused its move, it is at logs-moved by now.
    const intact = fs.readFileSync(fs.existsSync(g) ? g : path.join(dir, 'logs-moved', 'g.log'), 'utf8') === 'keep g';
    const evs = r.all.filter((e) => e.resolvedPath.toString() === g).map((e) => `${e.op} ${e.action} ${e.hook}${e.denyAsKill ? ' denyAsKill' : ''}`).sort();
    const want = lsm ? ['open deny lsm'] : hook === 'tracepoint' ? [`open kill ${hook} denyAsKill`] : [`open allow ${hook}`, `truncate kill ${hook} denyAsKill`];
    const ok = lsm ? st !== 0 && st !== 137 && intact && /Operation not permitted/.test(fs.readFileSync(path.join(dir, 'otrunc.err'), 'utf8')) : st === 137 && !intact;
    if (!ok || JSON.stringify(evs) !== JSON.stringify(want)) wrong.push(`O_TRUNC open: exit ${st}, file ${intact ? 'intact' : 'truncated'}, events ${JSON.stringify(evs)}, want ${JSON.stringify(want)}`);
  }
  // chmod through a symlink acts on its target: the kernel's name for it, or the link as spelled.
  {
    const chmods = r.all.filter((e) => e.op === 'chmod');
    const want = kernelName ? `${logs}/w.log` : `${dir}/w-link`;
    if (chmods.length !== 1 || chmods[0]!.resolvedPath.toString() !== want || chmods[0]!.action !== 'allow' || (kernelName && chmods[0]!.pathLexical)) wrong.push(`chmod through a symlink: ${chmods.map(describe).join('; ')}, want ${want}${kernelName ? ' (not lexical)' : ''}`);
  }
  forms.forEach(([label, , file, op, byName, kernelPath, spelledPath], i) => {
    const status = Number(fs.readFileSync(path.join(dir, `opst.${i}`), 'utf8'));
    const err = fs.readFileSync(path.join(dir, `operr.${i}`), 'utf8').trim();
    const p = file ? path.join(logs, file) : logs;
    const intact = file ? fs.existsSync(p) && fs.readFileSync(p, 'utf8') === `keep ${file[0]}` : fs.existsSync(logs);
    const evs = r.all.filter((e) => e.op === op && (file ? e.resolvedPath.toString().endsWith(`/${file}`) || e.second?.bytes.toString().endsWith(`/${file}`) : e.second?.bytes.toString() === logs));
    const say = `${label}: exit ${status}, file ${intact ? 'intact' : 'changed'}, ${evs.length} event(s) ${evs.map(describe).join('; ')}`;
    // The record's name: the kernel's (never lexical) where a path check judged it, else as spelled.
    const name = kernelName ? kernelPath : spelledPath;
    if (evs.length === 1 && (evs[0]!.resolvedPath.toString() !== name || (kernelName && evs[0]!.pathLexical))) wrong.push(`${label}: recorded as ${describe(evs[0]!)}, want ${name}${kernelName ? ' (not lexical)' : ''}`);
    if (lsm) {
      const ok = status !== 0 && status !== 137 && /Operation not permitted|PermissionError/.test(err) && intact && evs.length === 1 && evs[0]!.action === 'deny' && evs[0]!.hook === 'lsm' && evs[0]!.ret === -1 && !evs[0]!.denyAsKill;
      if (!ok) wrong.push(`${say}; stderr ${JSON.stringify(err.split('\n').pop())}`);
    } else if (byName || kernelName) {
      const ok = status === 137 && !intact && evs.length === 1 && evs[0]!.action === 'kill' && evs[0]!.hook === hook && evs[0]!.denyAsKill && evs[0]!.ret === 0;
      if (!ok) wrong.push(say);
    } else {
      // Recorded once, under the name as reached lexically, and not stopped: the documented limit.
      if (evs.length !== 1 || status !== 0) wrong.push(say);
      else notes.push(`${label}: not stopped (tracepoint: the name is judged lexically)`);
    }
  });
  const detail = wrong.length
    ? wrong.join(' | ')
    : lsm
      ? `an append to a log allowed (the entry names unlink, rename, truncate); ${forms.length} of ${forms.length} refused with EPERM, files intact, each recorded once with the lsm's deny (${forms.map(([l]) => l).join(', ')})`
      : `an append to a log allowed (the entry names unlink, rename, truncate); ${forms.filter((f) => f[4] || kernelName).length} of ${forms.length} killed${kernelName ? ` by the ${hook} programs on security_path_*` : ''}, the syscall ran (denyAsKill, files changed); the O_TRUNC open killed${notes.length ? `; ${notes.join('; ')}` : ''}`;
  const names = kernelName ? "; each named where the kernel reached it, not lexical (the symlinked directory's real place; a chmod through a symlink, its target)" : '; each named as spelled (a chmod through a symlink, the link)';
  record({ hook, test, status: wrong.length ? 'fail' : 'pass', detail: wrong.length ? detail : detail + names });
}

/** The deny benchmark: 10,000 opens of a denied file (read and O_TRUNC alternately), none may succeed. */
/**
 * A process in its own mount namespace reads a file through a bind mount made there: the event keeps
 * its view (ns/b/f) and gives the host path (ns/a/f, checked on the host), and a kill-path on the
 * host path of another file stops it there too (every hook judges where the file is on the host).
 */
async function mountNamespaceCell(hook: Hook, dir: string): Promise<void> {
  const ns = path.join(dir, 'ns');
  for (const d of ['a', 'b']) fs.mkdirSync(path.join(ns, d), { recursive: true });
  fs.writeFileSync(path.join(ns, 'a', 'f'), 'f');
  fs.writeFileSync(path.join(ns, 'a', 'secret'), 's');
  const inner = `mount --bind ${ns}/a ${ns}/b && cat ${ns}/b/f >/dev/null && exec cat ${ns}/b/secret`;
  const r = await capture(hook, dir, `unshare -m --propagation private /bin/sh -c '${inner}' >/dev/null; echo "inner $?" >&2`, { killPaths: [`${ns}/a/secret`] });
  const at = (p: string): CapturedEvent | undefined => r.all.find((e) => e.resolvedPath.toString() === p);
  const f = at(`${ns}/b/f`);
  const secret = at(`${ns}/b/secret`);
  const problems: string[] = [];
  if (f?.hostPath?.toString() !== `${ns}/a/f` || f.hostPathStatus !== 'verified') problems.push(`b/f: host path ${f?.hostPath} (${f?.hostPathStatus ?? 'no event'})`);
  if (f && Number(f.ino) !== fs.statSync(path.join(ns, 'a', 'f')).ino) problems.push(`b/f: inode ${f.ino}`);
  if (!r.stderr.includes('inner 137')) problems.push(`not killed: ${r.stderr.trim()}`);
  if (secret?.action !== 'kill') problems.push(`b/secret: action ${secret?.action ?? 'no event'}`);
  record({ hook, test: 'mount namespace: host path, kill', status: problems.length ? 'fail' : 'pass', detail: problems.length ? problems.join('; ') : `b/f -> ${f?.hostPath} (${f?.hostPathStatus}); b/secret killed, host ${secret?.hostPath}` });
}

async function denyManyCell(hook: Hook, dir: string): Promise<void> {
  if (hook !== 'lsm') {
    record({ hook, test: 'deny x10000', status: 'n/a', detail: 'only lsm refuses an open; the other hooks kill (see deny)' });
    return;
  }
  const file = path.join(dir, 'deny', 'many');
  fs.writeFileSync(file, 'keep me');
  const attempts = 10000;
  // `true`, a regular built-in: a failed redirection does not end the shell. No fork per attempt.
  const loop = `n=0; i=0; while [ $i -lt ${attempts / 2} ]; do if true 2>/dev/null > ${file}; then n=$((n+1)); fi; if true 2>/dev/null < ${file}; then n=$((n+1)); fi; i=$((i+1)); done; echo "opened $n" >&2`;
  const started = process.hrtime.bigint();
  const r = await capture(hook, dir, loop, undefined, [{ path: `${dir}/deny/`, action: 'deny' }]);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const opened = Number(/opened (\d+)/.exec(r.stderr)?.[1] ?? -1);
  const all = r.events.filter((x) => x.resolvedPath.toString() === file);
  const denied = all.filter((x) => x.action === 'deny').length;
  const content = fs.readFileSync(file, 'utf8');
  // Every refusal once: as many events as attempts, all of them the lsm hook's deny records.
  const ok = opened === 0 && denied === attempts && all.length === attempts && content === 'keep me';
  record({ hook, test: 'deny x10000', status: ok ? 'pass' : 'fail', detail: `${opened} of ${attempts} denied opens succeeded; ${denied} deny events of ${all.length}; content ${JSON.stringify(content)}; ${seconds.toFixed(1)} s` });
}

const DIRFD_PY = `import os, sys
d = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
os.open("secret", os.O_RDONLY, dir_fd=d)
print("survived")
`;
const OPENAT2_PY = `import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
class How(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]
d = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
r = libc.syscall(437, d, b"sub/../secret", ctypes.byref(How(os.O_RDONLY, 0, 0)), 24)
if r < 0: raise SystemExit("openat2 refused: errno %d" % ctypes.get_errno())
print("survived")
`;

/**
 * A policy on one file, and the spellings that walk around a policy judged on the name as passed:
 * each one must be stopped (lsm: EPERM and nothing read; other hooks: killed, 137) and recorded
 * once with the file's real path.
 */
async function pathTricksCell(hook: Hook, dir: string): Promise<void> {
  const pt = path.join(dir, 'pt');
  fs.mkdirSync(path.join(pt, 'sub'), { recursive: true });
  const secret = path.join(pt, 'secret');
  fs.writeFileSync(secret, 'TOPSECRET');
  fs.mkdirSync(path.join(dir, 'elsewhere'));
  fs.symlinkSync(secret, path.join(dir, 'elsewhere', 'alias'));
  fs.symlinkSync('secret', path.join(pt, 'link'));
  fs.writeFileSync(path.join(dir, 'dirfd.py'), DIRFD_PY);
  fs.writeFileSync(path.join(dir, 'openat2.py'), OPENAT2_PY);
  const forms: [string, string][] = [
    ['absolute', `cat ${secret}`],
    ['relative after cd', `cd ${pt} && cat secret`],
    ['symlink elsewhere', `cat ${dir}/elsewhere/alias`],
    ['relative symlink', `cd ${pt} && cat link`],
    ['..', `cat ${pt}/sub/../../pt/secret`],
    ['//', `cat /${pt}//secret`],
    ['dirfd openat', `python3 ${dir}/dirfd.py ${pt}`],
    ['openat2 dirfd ..', `python3 ${dir}/openat2.py ${pt}`],
    ['hard link', `cat ${dir}/elsewhere/hard-link`],
    ['bind mount of the directory', `cat ${dir}/bound/secret`],
  ];
  // The last two reach the file under another name: their events show that name, with its inode.
  fs.linkSync(secret, path.join(dir, 'elsewhere', 'hard-link'));
  fs.mkdirSync(path.join(dir, 'bound'));
  const bound = spawnSync('mount', ['--bind', pt, path.join(dir, 'bound')], { encoding: 'utf8' });
  if (bound.status !== 0) {
    record({ hook, test: 'path tricks stopped', status: 'fail', detail: `mount --bind: ${bound.stderr.trim()}` });
    return;
  }
  const reached = [...forms.slice(0, -2).map(() => secret), path.join(dir, 'elsewhere', 'hard-link'), path.join(dir, 'bound', 'secret')];
  // Each form in its own subshell, so a kill ends only that one; its status and output to files.
  const script = forms.map(([, cmd], i) => `(${cmd}) > ${dir}/out.${i} 2> ${dir}/err.${i}; echo $? > ${dir}/st.${i}`).join('; ');
  let r: Run;
  try {
    r = await capture(hook, dir, script, undefined, [{ path: secret, action: 'deny' }]);
  } finally {
    spawnSync('umount', [path.join(dir, 'bound')]);
  }
  const lsm = hook === 'lsm';
  const wrong: string[] = [];
  forms.forEach(([label], i) => {
    const status = Number(fs.readFileSync(path.join(dir, `st.${i}`), 'utf8'));
    const out = fs.readFileSync(path.join(dir, `out.${i}`), 'utf8');
    const err = fs.readFileSync(path.join(dir, `err.${i}`), 'utf8');
    const stopped = lsm ? status !== 0 && /Operation not permitted|PermissionError|errno 1\b/.test(err) : status === 137;
    if (!stopped || out.includes('TOPSECRET') || out.includes('survived')) wrong.push(`${label}: exit ${status}, out ${JSON.stringify(out.slice(0, 40))}, err ${JSON.stringify(err.trim().split('\n').pop())}`);
  });
  const want = lsm ? 'deny' : 'kill';
  const ino = fs.statSync(secret).ino;
  const hits = r.all.filter((e) => Number(e.ino) === ino);
  const paths = hits.map((e) => e.resolvedPath.toString()).sort();
  if (JSON.stringify(paths) !== JSON.stringify([...reached].sort()) || hits.some((e) => e.action !== want)) wrong.push(`${hits.length} events for the file's inode, ${forms.length} forms: ${hits.map(describe).join('; ')}`);
  record({ hook, test: 'path tricks stopped', status: wrong.length ? 'fail' : 'pass', detail: wrong.length ? wrong.join('; ') : `${forms.length} of ${forms.length} stopped (${lsm ? 'EPERM' : 'killed'}), each recorded once with the path the kernel reached and the file's inode (${forms.map(([l]) => l).join(', ')})` });
}

const describe = (e: CapturedEvent): string => `${e.resolvedPath} hook ${e.hook} ret ${e.retUnknown ? 'unknown' : e.ret}${e.pathLexical ? ' lexical' : ''}${e.action !== 'allow' ? ` ${e.action}` : ''}`;

/** One open, recorded exactly once, and that record as expected. */
function onceCell(hook: Hook, test: string, events: CapturedEvent[], right: (e: CapturedEvent) => boolean): Omit<Cell, 'kernel'> {
  const ok = events.length === 1 && right(events[0]!);
  return { hook, test, status: ok ? 'pass' : 'fail', detail: `${events.length} event(s)${events.length ? `: ${events.map(describe).join('; ')}` : ''}` };
}

async function hookCells(hook: Hook): Promise<void> {
  try {
    native().checkHook({ hook, attach: true, selfPid: process.pid });
  } catch (e) {
    const reason = explainRefusal(hook, e);
    // Inside the guests every hook must work; on the host the refusals are the known kernel facts.
    const status = kernel === 'host' ? 'n/a' : 'fail';
    for (const test of HOOK_TESTS) record({ hook, test, status, detail: reason });
    return;
  }
  record({ hook, test: 'attach', status: 'pass', detail: 'loaded and attached' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `fw-vm-${hook}-`));
  try {
    fs.writeFileSync(path.join(dir, 'read.txt'), 'r');
    // An open refused by DAC (EACCES) to an unprivileged user: lsm, fexit and kprobe never reach the file.
    fs.chmodSync(dir, 0o755);
    fs.writeFileSync(path.join(dir, 'secret'), 'root only', { mode: 0o600 });
    const asNobody = `setpriv --reuid=65534 --regid=65534 --clear-groups /bin/sh -c 'true < secret 2>/dev/null || echo refused >&2'`;
    // `true`, not `:`, for the failing open: a redirection error on a special built-in ends the shell.
    const run = await capture(hook, dir, `: > ${dir}/abs.txt; : < ${dir}/read.txt; : > rel.txt; true < missing.txt 2>/dev/null; ${asNobody}`);
    const { events } = run;
    const find = (p: string): CapturedEvent | undefined => events.find((e) => e.resolvedPath.toString() === p);
    const problems: string[] = [];
    const created = find(`${dir}/abs.txt`);
    const read = find(`${dir}/read.txt`);
    if (!created) problems.push('no event for the O_CREAT open');
    if (!read) problems.push('no event for the read open');
    for (const [e, want, file] of [[created, O_WRONLY, 'abs.txt'], [read, 0, 'read.txt']] as const) {
      if (!e) continue;
      if (e.comm !== 'sh') problems.push(`${file}: comm ${e.comm}`);
      if ((e.openFlags & O_ACCMODE) !== want) problems.push(`${file}: access mode ${e.openFlags & O_ACCMODE}, want ${want}`);
      if (e.hook !== hook) problems.push(`${file}: hook ${e.hook}`);
      if (hook === 'lsm' ? !e.retUnknown : e.ret < 0) problems.push(`${file}: ret ${e.ret} (unknown ${e.retUnknown})`);
      if (e.resolution !== 'kernel') problems.push(`${file}: resolution ${e.resolution}`);
      const ino = fs.statSync(path.join(dir, file)).ino;
      if (!e.hasFile || Number(e.ino) !== ino) problems.push(`${file}: inode ${e.ino} (has file ${e.hasFile}), want ${ino}`);
    }
    if (hook === 'tracepoint' && created && (created.openFlags & O_CREAT) === 0) problems.push('O_CREAT missing from the syscall flags');
    const n = events.length;
    record({ hook, test: 'open fields', status: problems.length ? 'fail' : 'pass', detail: problems.length ? problems.join('; ') : `${n} events; pid, comm, access mode, result, inode right` });

    const rel = find(`${dir}/rel.txt`);
    // Every hook resolves in the kernel; the tracepoint also carries the name as passed next to it.
    const relOk = rel && rel.resolution === 'kernel' && rel.pathResolved && (hook !== 'tracepoint' || rel.asPassed?.toString() === 'rel.txt');
    record({
      hook,
      test: 'relative name, full path',
      status: relOk ? 'pass' : 'fail',
      detail: rel ? `${rel.resolvedPath} (${rel.resolution}${hook === 'lsm' ? ', bpf_d_path' : ''})` : `no event for the relative open among ${events.map((e) => `${e.resolvedPath} ${e.resolution}`).join(', ')}`,
    });

    // Failed opens come from the syscall exit on every hook (the tracepoint hook's own, or the
    // syscall programs loaded next to lsm/fexit/kprobe); successes from the hook itself; none twice.
    const under = (p: string): CapturedEvent[] => run.all.filter((e) => e.resolvedPath.toString() === `${dir}/${p}`);
    const missing = under('missing.txt');
    record(onceCell(hook, 'ENOENT relative, once', missing, (e) => e.ret === -2 && e.hook === 'tracepoint' && e.resolution === 'kernel' && e.pathLexical === true && e.asPassed?.toString() === 'missing.txt'));
    const successes = under('read.txt');
    record(onceCell(hook, 'success, once', successes, (e) => e.hook === hook && (hook === 'lsm' ? e.retUnknown === true : e.ret >= 0)));
    const secret = onceCell(hook, 'EACCES as nobody, once', under('secret'), (e) => e.ret === -13 && e.uid === 65534 && e.hook === 'tracepoint' && e.pathLexical === true && e.resolution === 'kernel');
    const refused = run.stderr.includes('refused');
    record({ ...secret, status: refused ? secret.status : 'fail', detail: `${secret.detail}${refused ? '' : `; the open was not refused: ${run.stderr.trim()}`}` });
    await killCell(hook, dir);
    await denyCell(hook, dir);
    await denyManyCell(hook, dir);
    await operationsDenyCell(hook, dir);
    await pathTricksCell(hook, dir);
    await mountNamespaceCell(hook, dir);
    await pinnedCell(hook, dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A capture pinned in bpffs by a reader that is then killed with SIGKILL records on with no reader;
 * a new reader takes it over without loading anything and gets every open made in between, then the
 * opens after the takeover, each once, with the counters carried on. Its own opens are not recorded
 * (the takeover wrote its pid into each object's .bss), and a clean close removes the pins.
 */
async function pinnedCell(hook: Hook, dir: string): Promise<void> {
  const test = 'pinned capture taken over after SIGKILL';
  const work = path.join(dir, 'pinned');
  fs.mkdirSync(work);
  const pins = path.join('/sys/fs/bpf', `fw-vm-${process.pid}-${hook}`);
  const capture = path.join(repo, 'dist', 'collector', 'src', 'capture', 'capture.js');
  const opts = { hooks: hook, batchDelayMs: 10, ops: ['open'], filters: { includePaths: [`${work}/`] } };
  // The first reader: a process of its own, so it can die by SIGKILL.
  const script = `const { Capture } = require(${JSON.stringify(capture)});
    new Capture({ ...${JSON.stringify(opts)}, pin: { dir: process.argv[1] } }, () => undefined);
    console.log('ready'); setInterval(() => undefined, 1000);`;
  fs.mkdirSync(pins);
  const child = spawn(process.execPath, ['-e', script, pins], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const problems: string[] = [];
  let detail = '';
  try {
    const ready = await new Promise<boolean>((r) => {
      child.stdout.on('data', () => out.includes('ready') && r(true));
      child.on('exit', () => r(false));
    });
    if (!ready) throw new Error(`the first reader did not start: ${out.trim().slice(-300)}`);
    const attached = fs.readdirSync(path.join(pins, 'links')).length;
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const sh = (cmd: string): void => void spawnSync('/bin/sh', ['-c', cmd], { cwd: work });
    sh('for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do : > down-$i; done');
    const events: CapturedEvent[] = [];
    const cap = new Capture({ ...opts, ops: ['open'], hooks: hook, pin: { dir: pins, adopt: { hook, attached: [] } } }, (b) => events.push(...b));
    try {
      fs.writeFileSync(path.join(work, 'self'), 'the reader itself');
      sh('for i in 1 2 3 4 5; do : > up-$i; done');
      await sleep(300);
    } finally {
      await cap.close();
    }
    const names = events.map((e) => path.basename(e.resolvedPath.toString()));
    const want = [...Array.from({ length: 20 }, (_, i) => `down-${i + 1}`), ...Array.from({ length: 5 }, (_, i) => `up-${i + 1}`)];
    const missing = want.filter((n) => !names.includes(n));
    const twice = want.filter((n) => names.filter((m) => m === n).length > 1);
    if (missing.length) problems.push(`missing ${missing.join(', ')}`);
    if (twice.length) problems.push(`twice ${twice.join(', ')}`);
    if (names.includes('self')) problems.push("the taking-over reader's own open was recorded");
    const wrongHook = events.filter((e) => e.hook !== hook);
    if (wrongHook.length) problems.push(`${wrongHook.length} events from hook ${wrongHook[0]!.hook}`);
    const s = cap.stats();
    if (s.emitted < events.length) problems.push(`counters did not carry on: emitted ${s.emitted} < ${events.length} read`);
    if (fs.existsSync(pins)) problems.push('the pins outlived the clean close');
    detail = `${attached} links pinned; ${events.length} events: 20 opens with no reader and 5 after the takeover, each once; own open not recorded; emitted ${s.emitted}`;
  } catch (e) {
    problems.push((e as Error).message);
  } finally {
    child.kill('SIGKILL');
    fs.rmSync(pins, { recursive: true, force: true });
  }
  record({ hook, test, status: problems.length ? 'fail' : 'pass', detail: problems.length ? problems.join('; ') : detail });
}

function autoCell(): void {
  try {
    const c = selectHook('auto');
    const want = kernel === 'host' ? 'tracepoint' : 'lsm';
    record({ hook: '-', test: 'auto picks', status: c.hook === want ? 'pass' : 'fail', detail: `${c.hook}${c.skipped.length ? `; skipped ${c.skipped.map((s) => s.hook).join(', ')}` : ''}` });
  } catch (e) {
    record({ hook: '-', test: 'auto picks', status: 'fail', detail: (e as Error).message });
  }
}

function doctorCell(): void {
  const r = spawnSync(process.execPath, [path.join(repo, 'bin', 'filewarden.js'), 'doctor', '--json'], { encoding: 'utf8', env: { ...process.env, FILEWARDEN_STATE_DIR: os.tmpdir() } });
  let checks: { id: string; status: string; detail: string }[] = [];
  try {
    checks = JSON.parse(r.stdout);
  } catch {
    record({ hook: '-', test: 'doctor', status: 'fail', detail: `no JSON: ${r.stderr.slice(-300)}` });
    return;
  }
  const by = new Map(checks.map((c) => [c.id, c]));
  const guest = kernel !== 'host';
  const lsms = fs.readFileSync('/sys/kernel/security/lsm', 'utf8').trim();
  const expect: [string, (c: { status: string; detail: string }) => boolean, string][] = [
    ['btf', (c) => c.status === 'ok', 'BTF present'],
    ['lsm', (c) => c.status === 'ok' && c.detail.includes(lsms) && (!guest || /bpf/.test(lsms)), guest ? 'BPF LSM active' : `LSMs ${lsms}`],
    ['lockdown', (c) => (guest ? /none/.test(c.detail) : /integrity/.test(c.detail)), guest ? 'lockdown none' : 'lockdown integrity'],
    ['kprobes', (c) => (guest ? c.status === 'ok' : c.status !== 'ok'), guest ? 'kprobes available' : 'kprobes missing'],
    ['hooks', (c) => new RegExp(guest ? 'lsm' : 'tracepoint').test(c.detail), guest ? 'auto: lsm' : 'auto: tracepoint'],
  ];
  const wrong = expect.filter(([id, ok]) => !by.has(id) || !ok(by.get(id)!)).map(([id, , want]) => `${id}: want ${want}, got ${by.get(id)?.status ?? 'missing'} ${by.get(id)?.detail ?? ''}`);
  record({ hook: '-', test: 'doctor', status: wrong.length ? 'fail' : 'pass', detail: wrong.length ? wrong.join('; ') : expect.map(([, , w]) => w).join(', ') });
}

function overrideCell(): void {
  // bpf_override_return needs CONFIG_BPF_KPROBE_OVERRIDE (and with it function error injection).
  const config = process.env.FW_VM_KERNEL_CONFIG ?? '/proc/config.gz';
  let text: string | undefined;
  try {
    const raw = fs.readFileSync(config);
    text = config.endsWith('.gz') ? zlib.gunzipSync(raw).toString() : raw.toString();
  } catch {
    text = undefined;
  }
  if (text === undefined) {
    record({ hook: '-', test: 'bpf_override_return', status: 'fail', detail: `cannot read the kernel config (${config})` });
    return;
  }
  const on = /^CONFIG_BPF_KPROBE_OVERRIDE=y/m.test(text);
  record({ hook: '-', test: 'bpf_override_return', status: on ? 'pass' : 'n/a', detail: on ? 'supported (CONFIG_BPF_KPROBE_OVERRIDE=y)' : 'unsupported: CONFIG_BPF_KPROBE_OVERRIDE is not set' });
}

async function main(): Promise<void> {
  fs.writeFileSync(resultsFile, '');
  for (const hook of HOOKS) await hookCells(hook);
  autoCell();
  doctorCell();
  overrideCell();
  console.log(`fw-vm: done ${cells.filter((c) => c.status === 'fail').length} failed of ${cells.length}`);
}

main().catch((e) => {
  record({ hook: '-', test: 'suite', status: 'fail', detail: (e as Error).stack ?? String(e) });
  process.exitCode = 1;
});
