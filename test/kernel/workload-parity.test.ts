// Root, real kernel, tracepoint hook: every open(2), openat(2), openat2(2) and creat(2) a workload
// makes, as strace records it, is exactly one event with the same process, syscall, name bytes and
// result, including failed opens (ENOENT, EACCES), awkward names and names at the kernel's limit.
// The event's path is the kernel's: equal to the path strace -yy reads behind the returned fd, and
// for a failed open to strace's dirfd (or cwd) path with the name joined lexically.
import fs from 'node:fs';
import t from 'tap';
import type { CapturedEvent } from '../../contract/src/event';
import { toEcsHere as toEcs } from '../utils/kernel';
import { unescapeName } from '../../contract/src/path-text';
import { normalizeAbsolute } from '../../collector/src/resolve/path-resolver';
import { runWorkload, startCapture, tempDir, type StraceOpen } from '../utils/kernel';

const WORKLOAD = String.raw`
import os, sys, json, ctypes, time
d = sys.argv[1].encode()
libc = ctypes.CDLL(None, use_errno=True)
class How(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]
def sc(nr, *a):
    r = libc.syscall(nr, *a)
    return r if r >= 0 else -ctypes.get_errno()
def close(fd):
    if fd >= 0: os.close(fd)
def try_open(name, flags, mode=0o644, dir_fd=None):
    try: os.close(os.open(name, flags, mode, dir_fd=dir_fd))
    except OSError: pass
try_open(d + b"/read.txt", os.O_RDONLY)
try_open(d + b"/write.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
try_open(d + b"/missing.txt", os.O_RDONLY)
dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
try_open(b"rel.txt", os.O_RDWR | os.O_CREAT, 0o600, dir_fd=dfd)
close(sc(437, dfd, b"rel.txt", ctypes.byref(How(os.O_RDONLY, 0, 0)), 24))   # openat2
close(sc(2, d + b"/read.txt", os.O_RDONLY, 0))                              # open
close(sc(85, d + b"/creat.txt", 0o600))                                     # creat
pid = os.fork()
if pid == 0:  # EACCES: a non-root process opens a root-only file
    os.setgid(65534); os.setuid(65534)
    try_open(d + b"/secret", os.O_RDONLY)
    os._exit(0)
os.waitpid(pid, 0)
try_open(d + b"/bad-\xff\xfe.txt", os.O_WRONLY | os.O_CREAT)
try_open(d + b"/new\nline.txt", os.O_WRONLY | os.O_CREAT)
try_open(d + b"/back\\slash.txt", os.O_WRONLY | os.O_CREAT)
try_open(d + b"/" + b"n" * 255, os.O_WRONLY | os.O_CREAT)
# 2047 nested directories: "d/" * 2047 + "f" is a 4095-byte name, the longest the kernel takes.
cur = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
for _ in range(2047):
    os.mkdir(b"d", dir_fd=cur)
    nxt = os.open(b"d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=cur)
    os.close(cur); cur = nxt
os.close(cur)
try_open(b"d/" * 2047 + b"f", os.O_WRONLY | os.O_CREAT, dir_fd=dfd)
try_open(b"d/" * 2047 + b"ff", os.O_WRONLY | os.O_CREAT, dir_fd=dfd)       # 4096 bytes: ENAMETOOLONG
time.sleep(0.3)  # alive while the collector reads its cwd and dirfds
print(json.dumps({"pid": os.getpid(), "child": pid, "dfd": dfd}))
`;

t.test('every open strace sees is exactly one event with the same pid, syscall, name bytes and result', async (t) => {
  const dir = tempDir(t);
  fs.writeFileSync(`${dir}/read.txt`, 'x');
  fs.writeFileSync(`${dir}/secret`, 's', { mode: 0o600 });
  const { events, capture } = startCapture(t);
  const { report, strace } = await runWorkload<{ pid: number; child: number; dfd: number }>(t, WORKLOAD, [dir], { strace: true });
  await capture.close();
  const stats = capture.stats();

  const pids = new Set([report.pid, report.child]);
  const truth = strace.filter((s) => pids.has(s.pid));
  const mine = events.filter((e) => pids.has(e.pid));
  t.ok(truth.length > 2047 + 10, `strace saw the workload's opens (${truth.length})`);
  t.equal(mine.length, truth.length, 'as many events as strace lines for the workload');
  for (const sc of ['open', 'openat', 'openat2', 'creat'] as const) {
    t.equal(mine.filter((e) => e.syscall === sc).length, truth.filter((s) => s.syscall === sc).length, `${sc}: same count`);
  }

  // Match each strace line to one event: same pid, syscall, dirfd, result and name bytes as passed.
  const key = (pid: number, sc: string, ret: number, name: Buffer) => `${pid}|${sc}|${ret}|${name.toString('hex')}`;
  const pool = new Map<string, CapturedEvent[]>();
  for (const e of mine) {
    const k = key(e.pid, e.syscall, e.ret, e.asPassed ?? e.path);
    pool.set(k, [...(pool.get(k) ?? []), e]);
  }
  const unmatched: StraceOpen[] = [];
  const wrongPath: string[] = [];
  let fdPaths = 0;
  let joined = 0;
  const tooLongToJoin: string[] = [];
  const show = (b: Buffer) => JSON.stringify(b.toString('latin1').slice(-80));
  for (const s of truth) {
    const name = s.name.length > 4095 ? s.name.subarray(0, 4095) : s.name;
    const e = pool.get(key(s.pid, s.syscall, s.ret, name))?.shift();
    if (!e) {
      unmatched.push(s);
      continue;
    }
    if (s.ret >= 0 && s.retPath) {
      // strace read the fd's path from /proc right after the call: the kernel's path must be it.
      fdPaths++;
      if (!e.pathResolved || e.resolution !== 'kernel' || !e.path.equals(s.retPath)) wrongPath.push(`${show(s.retPath)} != ${show(e.path)} (${e.resolution})`);
    } else if (s.ret < 0 && s.name.length <= 4095 && (s.name[0] === 0x2f || s.dirPath)) {
      const want = normalizeAbsolute(s.name[0] === 0x2f ? s.name : Buffer.concat([s.dirPath!, Buffer.from('/'), s.name]));
      if (want.length > 4095) {
        // Longer than a record's path: the kernel keeps the name as passed, and says so.
        tooLongToJoin.push(`${want.length}: ${e.pathResolved ? 'resolved' : 'as passed'}, ${e.resolution}`);
        continue;
      }
      joined++;
      if (!e.pathResolved || !e.pathLexical || !e.path.equals(want)) wrongPath.push(`${show(want)} != ${show(e.path)} (failed, ${e.resolution}, lexical ${e.pathLexical})`);
    }
  }
  t.same(unmatched.map((s) => `${s.syscall} ${JSON.stringify(s.name.toString('latin1').slice(0, 80))} = ${s.ret}`), [], 'every strace line has its event');
  t.ok(fdPaths > 2047, `strace printed the fd's path for ${fdPaths} successful opens`);
  t.ok(joined >= 2, `and the base directory for ${joined} failed ones`);
  t.ok(tooLongToJoin.every((x) => x.includes('as passed')), `failed opens whose path exceeds 4095 bytes keep the name as passed: ${tooLongToJoin.join('; ')}`);
  t.same(wrongPath, [], 'each event\'s path is exactly the path strace -yy shows for the fd, or the lexical join for a failed open');

  const find = (pred: (e: (typeof mine)[number]) => boolean, what: string) => {
    const found = mine.filter(pred);
    t.equal(found.length, 1, `one event: ${what}`);
    return found[0]!;
  };
  const realDir = fs.realpathSync(dir);
  const eacces = find((e) => e.pid === report.child && e.path.toString().endsWith('/secret'), 'the non-root open of a 0600 file');
  t.equal(eacces.ret, -13, 'EACCES');
  t.equal(eacces.path.toString(), `${realDir}/secret`, 'its absolute path, from the kernel');
  t.equal(eacces.resolution, 'kernel');
  t.equal(eacces.uid, 65534);
  t.equal(toEcs(eacces).error?.code, 'EACCES');
  t.equal(toEcs(eacces).event.outcome, 'failure');

  const o2 = find((e) => e.syscall === 'openat2', 'openat2');
  t.equal(o2.dirfd, report.dfd, 'openat2 keeps its dirfd');
  t.equal(o2.resolution, 'kernel', 'its path is the opened file\'s, from the kernel');
  t.equal(o2.resolvedPath.toString(), `${realDir}/rel.txt`);
  t.equal(o2.asPassed?.toString(), 'rel.txt', 'the name as passed rides along');
  const creat = find((e) => e.syscall === 'creat', 'creat');
  t.equal(creat.openFlags, 0o1101, 'creat means O_CREAT|O_WRONLY|O_TRUNC');
  t.equal(creat.mode, 0o600);

  const longest = find((e) => (e.asPassed ?? e.path).length === 4095 && e.ret >= 0, 'the 4095-byte name');
  t.equal(longest.asPassed?.length, 4095, 'a 4095-byte name as passed is whole');
  const full = `${realDir}/${'d/'.repeat(2047)}f`;
  t.ok(longest.pathTail && longest.pathTruncated, `its ${full.length}-byte path does not fit: flagged tail-only`);
  t.ok(longest.path.length > 4000 && full.endsWith(longest.path.toString()), 'the kernel kept the path\'s last bytes, byte for byte');
  t.equal(toEcs(longest).filewarden.path.tail_only, true, 'the document says so');
  const tooLong = find((e) => e.pathTruncated && e.ret < 0, 'the 4096-byte name');
  t.equal(tooLong.ret, -36, 'ENAMETOOLONG');
  t.notOk(tooLong.pathResolved, 'a name the kernel refused is kept as passed');
  t.equal(tooLong.path.length, 4095, 'the first 4095 bytes are kept');
  t.equal(tooLong.pathOrigLen, undefined, 'the original length is unknown, and said to be');
  t.equal(toEcs(tooLong).filewarden.path.truncated, true, 'the document flags the truncation');

  // Awkward names survive into the document byte for byte, and distinct names get distinct text.
  for (const tail of [Buffer.from('/bad-\xff\xfe.txt', 'latin1'), Buffer.from('/new\nline.txt'), Buffer.from('/back\\slash.txt'), Buffer.from(`/${'n'.repeat(255)}`)]) {
    const e = find((x) => x.path.equals(Buffer.concat([Buffer.from(realDir), tail])), JSON.stringify(tail.toString('latin1')));
    const doc = toEcs(e).filewarden.path;
    const back = doc.raw_b64 ? Buffer.from(doc.raw_b64, 'base64') : Buffer.from(toEcs(e).file.path);
    t.ok(back.equals(e.resolvedPath), `${JSON.stringify(tail.toString('latin1').slice(0, 20))}: the document gives back the exact bytes`);
    if (doc.encoding === 'escaped') t.ok(unescapeName(toEcs(e).file.path).equals(e.resolvedPath), 'and so does the escaped text');
  }
  const texts = new Map<string, string>();
  for (const e of mine) {
    const text = toEcs(e).file.path;
    const raw = e.resolvedPath.toString('hex');
    if (texts.has(text) && texts.get(text) !== raw) t.fail(`two names share the text ${text}`);
    texts.set(text, raw);
  }

  t.equal(stats.dropped, 0, 'no drops');
  t.equal(stats.argsLost, 0);
  t.equal(stats.recordsRead, stats.emitted, 'every emitted record was read');
});
