// `filewarden doctor` on the real host: each reported fact agrees with the kernel's own files,
// and a Redis that can lose queued events or answers without a password is reported loudly.
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import zlib from 'node:zlib';
import t from 'tap';
import type { CheckResult } from '../../cli/src/doctor/checks';
import { defaultStateDir, readState, stackPaths } from '../../stack/src';
import { cli, endpoints } from '../utils/stack';

async function doctor(env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; checks: Map<string, CheckResult> }> {
  const r = await cli(['doctor', '--json'], env);
  const list = JSON.parse(r.stdout) as CheckResult[];
  return { code: r.code, checks: new Map(list.map((c) => [c.id, c])) };
}

t.test('doctor reports this kernel as its own files describe it', async (t) => {
  const { code, checks } = await doctor();
  t.equal(code, 0, 'all required checks pass on the test host');
  for (const id of ['btf', 'tracefs', 'securityfs', 'lockdown', 'lsm', 'tracepoints', 'operations', 'kprobes', 'memlock', 'privileges', 'hooks', 'redis', 'redis-auth', 'elasticsearch']) {
    t.ok(checks.has(id), `a ${id} line`);
  }

  // Each operation's syscalls, as tracefs lists them here: the ones this kernel lacks are named.
  const ops = checks.get('operations')?.detail ?? '';
  const missing = (sc: string) => !fs.existsSync(`/sys/kernel/tracing/events/syscalls/sys_enter_${sc}`);
  for (const [op, scs] of [['unlink', ['unlink', 'unlinkat']], ['chmod', ['chmod', 'fchmod', 'fchmodat', 'fchmodat2']], ['setxattr', ['setxattr', 'lsetxattr', 'fsetxattr', 'setxattrat']], ['modify', ['write', 'pwrite64', 'writev', 'pwritev', 'pwritev2', 'sendfile64', 'copy_file_range', 'splice']]] as const) {
    const gone = scs.filter(missing);
    t.ok(ops.includes(gone.length ? `${op} (not ${gone.join(', ')})` : `; ${op};`) || ops.includes(`; ${op}.`) || ops.includes(`: ${op};`), `operations: ${op}${gone.length ? ` without ${gone.join(', ')}` : ''}`);
  }
  // Which operations the lsm path hooks can refuse here, and which the security_path_* calls can judge
  // under kprobe and fexit: the kernel's own symbols say which exist.
  const syms = fs.readFileSync('/proc/kallsyms', 'utf8');
  const has = (prefix: string) => ['unlink', 'rmdir', 'rename', 'chmod', 'chown', 'link', 'symlink', 'mkdir', 'mknod', 'truncate'].filter((op) => new RegExp(` ${prefix}${op}$`, 'm').test(syms));
  t.match(ops, `the path hooks refuse ${has('bpf_lsm_path_').join(', ')} with EPERM`, 'the enforcement part names the operations whose lsm path hook this kernel has');
  t.match(ops, `the programs on the kernel's security_path_* calls judge ${has('security_path_').join(', ')} by the name the kernel reached`, 'and those whose security_path_* call it has');
  t.match(ops, /setxattr, removexattr \(and every operation on tracepoint\) are judged at the syscall exit/, 'and the ones judged at the exit');
  t.equal(checks.get('operations')?.status, 'ok', 'every operation can be recorded here');

  t.equal(checks.get('btf')?.status, fs.existsSync('/sys/kernel/btf/vmlinux') ? 'ok' : 'fail');

  const lockdown = /\[(\w+)\]/.exec(fs.readFileSync('/sys/kernel/security/lockdown', 'utf8'))?.[1];
  t.match(checks.get('lockdown')?.detail, `lockdown=${lockdown}`);

  const lsms = fs.readFileSync('/sys/kernel/security/lsm', 'utf8').trim();
  t.match(checks.get('lsm')?.detail, `active LSMs: ${lsms}`);
  t.equal(checks.get('lsm')?.status, lsms.split(',').includes('bpf') ? 'ok' : 'warn');

  const config = fs.existsSync('/proc/config.gz') ? zlib.gunzipSync(fs.readFileSync('/proc/config.gz')).toString() : '';
  const kprobes = /^CONFIG_KPROBES=y$/m.test(config) || fs.existsSync('/sys/kernel/tracing/kprobe_events');
  t.equal(checks.get('kprobes')?.status, kprobes ? 'ok' : 'warn');
  t.match(checks.get('kprobes')?.detail, kprobes ? 'kprobes available' : 'kprobes unavailable');

  // doctor reports the hook `--hooks auto` would pick, with each skipped hook's reason.
  const hooks = checks.get('hooks')?.detail ?? '';
  t.match(hooks, /--hooks auto picks (lsm|fexit|kprobe|tracepoint)/);
  if (lockdown && lockdown !== 'none') t.match(hooks, /lsm: (kernel lockdown|BPF LSM inactive)/, 'lsm skipped, with the reason');
  if (!kprobes) t.match(hooks, /kprobe: kprobes not compiled in/, 'kprobe skipped, with the reason');
  t.match(hooks, /; failed opens: (the tracepoint hook itself|the syscall exit tracepoints next to (lsm|fexit|kprobe))/, 'and where failed opens come from');

  t.equal(checks.get('tracepoints')?.status, 'ok');
  t.match(checks.get('tracepoints')?.detail, 'syscall tracepoints usable: sys_enter/sys_exit for openat');
  t.equal(checks.get('privileges')?.status, 'ok');
  t.equal(checks.get('redis')?.status, 'ok');
  t.match(checks.get('redis')?.detail, /^redis:\/\/filewarden:\*\*\*@127\.0\.0\.1:\d+ \(stack\) reachable/, 'the URL is shown with the password masked');
  t.notMatch(JSON.stringify([...checks.values()]), decodeURIComponent(new URL(endpoints().redisUrl).password), 'the password appears nowhere');
  t.equal(checks.get('redis-auth')?.status, 'ok');
  t.match(checks.get('redis-auth')?.detail, 'refuses unauthenticated commands (NOAUTH)');
  t.equal(checks.get('elasticsearch')?.status, 'ok');

  const text = await cli(['doctor']);
  console.log(`# doctor on this host:\n${text.stdout.replace(/^/gm, '#   ')}`);
  for (const line of text.stdout.trim().split('\n').slice(0, -1)) {
    t.match(line, /^(ok  |WARN|FAIL)  \S+/, 'one line per check');
    if (!line.startsWith('ok')) t.match(line, '-> fix:', 'every failing line has a fix');
  }
});

t.test('a Redis that evicts and keeps nothing on disk is reported loudly', async (t) => {
  const port = 16000 + Math.floor(Math.random() * 1000);
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'allkeys-lru'], { stdio: 'ignore' });
  t.teardown(() => void child.kill('SIGKILL'));
  let checks = new Map<string, CheckResult>();
  for (let i = 0; i < 50; i++) {
    ({ checks } = await doctor({ FILEWARDEN_REDIS_URL: `redis://127.0.0.1:${port}` }));
    if (checks.get('redis')?.status !== 'fail') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const redis = checks.get('redis');
  t.equal(redis?.status, 'warn');
  t.match(redis?.detail, 'WARNING: queued audit events can be lost');
  t.match(redis?.detail, 'maxmemory-policy is allkeys-lru');
  t.match(redis?.detail, 'appendonly is off');
  t.match(redis?.fix, 'noeviction');

  const auth = checks.get('redis-auth');
  t.equal(auth?.status, 'warn', 'a Redis without a password is a warning, not a failure');
  t.match(auth?.detail, 'WARNING');
  t.match(auth?.detail, 'answers commands without authentication: any local user can feed or drain the queue');
  t.match(auth?.fix, 'FILEWARDEN_REDIS_PASSWORD_FILE');
  const text = await cli(['doctor'], { FILEWARDEN_REDIS_URL: `redis://127.0.0.1:${port}` });
  t.match(text.stdout, /^WARN {2}redis-auth +WARNING: redis:\/\/127\.0\.0\.1:\d+ answers commands without authentication/m);
  t.notMatch(text.stdout, /required check\(s\) failed: .*redis-auth/, 'it does not fail the run');
});

t.test('FILEWARDEN_REDIS_PASSWORD_FILE supplies the password of a Redis URL that names only the user', async (t) => {
  const redis = readState(stackPaths(defaultStateDir()).stateFile).redis!;
  const url = `redis://filewarden@127.0.0.1:${redis.port}`;
  const without = await doctor({ FILEWARDEN_REDIS_URL: url });
  t.equal(without.checks.get('redis')?.status, 'fail', 'without the password the embedded Redis refuses');
  t.match(without.checks.get('redis')?.detail, /NOAUTH|WRONGPASS/);
  const withFile = await doctor({ FILEWARDEN_REDIS_URL: url, FILEWARDEN_REDIS_PASSWORD_FILE: redis.passwordFile });
  t.equal(withFile.checks.get('redis')?.status, 'ok', 'with the file it is served');
  t.match(withFile.checks.get('redis')?.detail, `redis://filewarden:***@127.0.0.1:${redis.port} (env) reachable`);
  t.equal(withFile.checks.get('redis-auth')?.status, 'ok');
});

t.test('doctor fails with a fix when Redis and Elasticsearch are unreachable', async (t) => {
  const r = await cli(['doctor'], { FILEWARDEN_REDIS_URL: 'redis://127.0.0.1:1', FILEWARDEN_ELASTICSEARCH_URL: 'http://127.0.0.1:1' });
  t.equal(r.code, 1);
  t.match(r.stdout, /FAIL {2}redis .*unreachable.*-> fix: check FILEWARDEN_REDIS_URL/);
  t.match(r.stdout, /FAIL {2}elasticsearch .*unreachable.*-> fix: check FILEWARDEN_ELASTICSEARCH_URL/);
  t.match(r.stdout, 'doctor: 2 required check(s) failed: redis, elasticsearch');
});
