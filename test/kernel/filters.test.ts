// Root, real kernel, tracepoint hook: the in-kernel filters (path prefixes, comm, uid, cgroup) drop
// exactly what they should, judging the path the kernel resolved (relative and unnormalised names
// included), and the counters add up.
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { CaptureStats } from '../../collector/src/capture/capture';
import type { FilterOptions } from '../../collector/src/probe/native';
import { runWorkload, startCapture, tempDir } from '../utils/kernel';

const COMM = 'fw-filter-wl';

// Names itself COMM first, so --include-comm keeps only what follows; then opens argv[2:] (each
// "name[@uid][@cgroup-procs-file]") once, as that uid or in that cgroup when given.
const WORKLOAD = String.raw`
import os, sys, json, ctypes, time
ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0)
d = sys.argv[2].encode()
dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
def try_open(name):
    try: os.close(os.open(name, os.O_RDONLY | os.O_CREAT, 0o644, dir_fd=dfd))
    except OSError: pass
for spec in sys.argv[3:]:
    name, uid, cg = (spec.split("@") + ["", ""])[:3]
    if not uid and not cg:
        try_open(name.encode()); continue
    pid = os.fork()
    if pid == 0:
        if cg: open(cg, "w").write(str(os.getpid()))
        if uid: os.setgid(int(uid)); os.setuid(int(uid))
        try_open(name.encode()); os._exit(0)
    os.waitpid(pid, 0)
time.sleep(0.3)  # alive while the collector reads its dirfd
print(json.dumps({"pid": os.getpid()}))
`;

async function capture(t: Test, filters: FilterOptions, opens: string[]): Promise<{ names: string[]; stats: CaptureStats; dir: string }> {
  const dir = tempDir(t);
  for (const sub of ['a/skip', 'b']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
  const abs = (p: string) => p.replace('/$D', dir);
  const sub = <T,>(v: T): T => (typeof v === 'string' ? (v.replace('$D', dir) as T) : v);
  const withDir = Object.fromEntries(Object.entries(filters).map(([k, v]) => [k, (v as unknown[]).map(sub)])) as FilterOptions;
  const { events, capture: c } = startCapture(t, { filters: { includeComms: [COMM], ...withDir } });
  await runWorkload(t, WORKLOAD, [COMM, dir, ...opens.map(abs)]);
  await c.close();
  return { names: events.filter((e) => e.comm === COMM).map((e) => e.resolvedPath.toString().replace(dir, '$D')).sort(), stats: c.stats(), dir };
}

function countersAgree(t: Test, s: CaptureStats): void {
  t.equal(s.dropped, 0, 'no ring-buffer drops');
  t.equal(s.seen, s.filtered + s.emitted + s.dropped + s.argsLost, 'seen == filtered + emitted + dropped + argsLost');
  t.equal(s.recordsRead, s.emitted, 'every emitted record was read');
  t.equal(s.recordsRead, s.delivered + s.filteredUser, 'read == delivered + filtered in user space');
}

t.test('path prefixes: the longest match decides, on the kernel-resolved path whatever the spelling', async (t) => {
  const { names, stats } = await capture(t, { includePaths: ['$D/a/'], excludePaths: ['$D/a/skip/'] }, [
    '/$D/a/x1', '/$D/a/x2', '/$D/a/skip/y1', '/$D/a/skip/y2', '/$D/b/z1', '/$D/b/z2', '/$D/b/z3',
    'a/rel', // relative: resolved in the kernel against the dirfd, it is kept
    '/$D/b/../a/dots', // not normalised: kept once normalised to $D/a/dots
    '/$D/a/../b/evil', // looks included by its prefix, but is $D/b/evil: dropped
    '/$D/a//skip/y3', // a double slash must not bypass the exclude
  ]);
  t.same(names, ['$D/a/dots', '$D/a/rel', '$D/a/x1', '$D/a/x2'], 'exactly the included, non-excluded opens');
  t.equal(stats.filteredUser, 0, 'the kernel judged every name by its resolved path: nothing was left for user space');
  t.ok(stats.filtered >= 5, `the excluded and the outside opens, unnormalised ones included, were dropped in the kernel (${stats.filtered})`);
  countersAgree(t, stats);
});

t.test('uid: an excluded uid\'s opens are dropped, others kept', async (t) => {
  const { names, stats } = await capture(t, { excludeUids: [65534] }, ['/$D/as-root', '/$D/as-nobody@65534']);
  t.same(names, ['$D', '$D/as-root'], 'the dirfd open and the root open, not the nobody one');
  countersAgree(t, stats);
});

t.test('comm: only the included process name is traced', async (t) => {
  const { names, stats } = await capture(t, {}, ['/$D/one', '/$D/two']);
  t.same(names, ['$D', '$D/one', '$D/two'], 'the workload\'s opens after it named itself');
  t.ok(stats.filtered > 0, 'everything else was filtered in the kernel');
  countersAgree(t, stats);
});

const cgroup2 = fs.readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')).find((f) => f[2] === 'cgroup2')?.[1];
t.test('cgroup: opens from an excluded cgroup are dropped', { skip: cgroup2 ? false : 'NOT RUN: no cgroup2 mount on this host' }, async (t) => {
  const cg = fs.mkdtempSync(path.join(cgroup2!, 'fw-test-'));
  t.teardown(() => fs.rmdirSync(cg));
  const id = fs.statSync(cg, { bigint: true }).ino;
  const { names, stats } = await capture(t, { excludeCgroups: [id] }, ['/$D/outside', `/$D/inside@@${cg}/cgroup.procs`]);
  t.same(names, ['$D', '$D/outside', `${cg}/cgroup.procs`].sort(), 'the move into the cgroup is seen, the open from inside it is not');
  countersAgree(t, stats);
});
