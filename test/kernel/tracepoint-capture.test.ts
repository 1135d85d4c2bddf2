// Root, real kernel: the syscall tracepoint programs turn each open of a known workload into
// exactly one event with the right fields, the path resolved in the kernel, the byte-exact name as
// passed next to it, and counters that add up.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { OpenEvent } from '../../contract/src/event';
import { OpenEventDecoder } from '../../collector/src/decode/open-event';
import { native, type RingReader } from '../../collector/src/probe/native';

const O = { RDONLY: 0, WRONLY: 1, RDWR: 2, CREAT: 0o100, TRUNC: 0o1000, DIRECTORY: 0o200000, CLOEXEC: 0o2000000 };

// The workload opens each name once and reports what it did; Python reaches openat(dirfd, ...).
const WORKLOAD = String.raw`
import os, sys, json
d = sys.argv[1].encode()
out = {"pid": os.getpid(), "opens": []}
def rec(name, flags, mode=0o644, dir_fd=None):
    try:
        fd = os.open(name, flags, mode, dir_fd=dir_fd)
        st = os.fstat(fd); os.close(fd)
        out["opens"].append({"name": name.hex(), "flags": flags, "mode": mode, "ret": "fd", "ino": st.st_ino, "dirfd": dir_fd})
    except OSError as e:
        out["opens"].append({"name": name.hex(), "flags": flags, "mode": mode, "ret": -e.errno, "dirfd": dir_fd})
rec(d + b"/read.txt", os.O_RDONLY)
rec(d + b"/write.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
rec(d + b"/rw.txt", os.O_RDWR | os.O_CREAT, 0o600)
rec(d + b"/missing.txt", os.O_RDONLY)
rec(d + b"/bad-\xff\xfe.txt", os.O_WRONLY | os.O_CREAT)
rec(d + b"/new\nline.txt", os.O_WRONLY | os.O_CREAT)
rec(d + b"/" + b"n" * 255, os.O_WRONLY | os.O_CREAT)
dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
rec(b"relative.txt", os.O_RDONLY | os.O_CREAT, 0o600, dir_fd=dfd)
os.close(dfd)
print(json.dumps(out))
`;

/** A reader for this test that is closed at teardown whatever happens, so a failure never hangs. */
function startReader(t: Test): { events: OpenEvent[]; reader: RingReader } {
  const { layout, RingReader } = native();
  const decoder = new OpenEventDecoder(layout());
  const events: OpenEvent[] = [];
  const reader = new RingReader({ selfPid: process.pid, batchDelayMs: 10 }, (batch) => events.push(...decoder.decodeBatch(batch)));
  t.teardown(() => reader.close());
  return { events, reader };
}

t.test('each open of a workload is one event with correct fields and the exact name bytes', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-kernel-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'read.txt'), 'x'); // by this process, so not part of the workload
  const { events, reader } = startReader(t);
  t.ok(reader.attached().includes('tracepoint/syscalls/sys_exit_openat'), 'openat exit attached');

  const run = spawnSync('python3', ['-c', WORKLOAD, dir], { encoding: 'utf8' });
  t.equal(run.status, 0, run.stderr);
  const report = JSON.parse(run.stdout) as { pid: number; opens: { name: string; flags: number; mode: number; ret: number | 'fd'; ino?: number; dirfd: number | null }[] };
  await reader.close();
  const stats = reader.stats();

  const mine = events.filter((e) => e.pid === report.pid);
  const realDir = fs.realpathSync(dir);
  for (const o of report.opens) {
    const name = Buffer.from(o.name, 'hex');
    const label = JSON.stringify(name.toString('latin1'));
    const matches = mine.filter((e) => (e.asPassed ?? e.path).equals(name));
    t.equal(matches.length, 1, `exactly one event for ${label}`);
    const e = matches[0];
    if (!e) continue;
    // The kernel's path: absolute, byte-exact, whatever the caller passed (the dirfd's directory
    // for the relative name); the name as passed rides along only where it differs.
    const want = name[0] === 0x2f ? Buffer.concat([Buffer.from(realDir), name.subarray(dir.length)]) : Buffer.from(`${realDir}/${name.toString('latin1')}`, 'latin1');
    t.ok(e.pathResolved, `${label} resolved in the kernel`);
    t.ok(e.path.equals(want), `path of ${label} is ${JSON.stringify(want.toString('latin1'))} (got ${JSON.stringify(e.path.toString('latin1'))})`);
    t.equal(e.asPassed === undefined, name.equals(want), `the name as passed is carried exactly when it differs: ${label}`);
    t.equal(e.pathLexical, o.ret !== 'fd', `only a failed open's path is a lexical join: ${label}`);
    t.equal(e.hook, 'tracepoint');
    t.equal(e.syscall, 'openat');
    t.equal(e.action, 'allow');
    t.equal(e.openFlags & ~O.CLOEXEC, o.flags, `flags of ${label}`);
    t.equal(e.dirfd, o.dirfd ?? -100, `dirfd of ${label}`);
    t.equal(e.uid, process.getuid?.());
    t.equal(e.euid, process.geteuid?.());
    t.equal(e.ppid, process.pid, 'the parent is this test');
    t.match(e.comm, /^python3/);
    t.notOk(e.pathTruncated);
    t.equal(e.pathOrigLen, want.length);
    if (o.ret === 'fd') {
      t.ok(e.ret >= 0, `${label} succeeded`);
      t.ok(e.hasFile);
      t.equal(e.ino, BigInt(o.ino!), `inode of ${label}`);
      const acc = o.flags & 3;
      t.equal(e.fMode & 3, acc === O.RDONLY ? 1 : acc === O.WRONLY ? 2 : 3, `f_mode read/write bits of ${label}`);
      if (o.flags & O.CREAT) t.equal(e.mode, o.mode, `create mode of ${label}`);
    } else {
      t.equal(e.ret, o.ret, `${label} failed with the same errno`);
      t.notOk(e.hasFile);
    }
  }
  t.ok(Buffer.from(report.opens[4]!.name, 'hex').includes(0xff), 'the invalid UTF-8 name kept its raw bytes');

  // Every event the kernel emitted was delivered, and the counters add up.
  t.equal(stats.dropped, 0);
  t.equal(stats.argsLost, 0);
  t.equal(stats.recordsRead, stats.emitted, 'records read == records emitted');
  t.equal(events.length, stats.emitted, 'records decoded == records emitted');
  t.equal(stats.seen, stats.filtered + stats.emitted, 'seen == filtered + emitted');
  t.equal(stats.batchesLost, 0);
});

t.test('the collector\'s own opens are filtered in the kernel and counted', async (t) => {
  const { events, reader } = startReader(t);
  for (let i = 0; i < 100; i++) fs.closeSync(fs.openSync('/etc/hostname', 'r'));
  await reader.close();
  const stats = reader.stats();
  t.equal(events.filter((e) => e.pid === process.pid).length, 0, 'no event from the collector itself');
  t.ok(stats.filtered >= 100, `at least the 100 own opens were filtered (${stats.filtered})`);
});

t.test('a bad ring buffer size is refused with a coded error', async (t) => {
  const { RingReader } = native();
  t.throws(() => new RingReader({ ringbufBytes: 12345 }, () => {}), { code: 'FW_ERR_BPF_OPEN' });
});
