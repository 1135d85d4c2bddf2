// Enrichment parsers: local account names, command lines, and container ids from cgroup paths.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AccountNames, parseIdFile } from '../../../collector/src/enrich/account-names';
import { hostIdentity } from '../../../collector/src/enrich/host-identity';
import { containerIdFromCgroup, parseCmdline, ProcessInfoReader } from '../../../collector/src/enrich/process-info';

const ID = 'a'.repeat(12) + '0123456789abcdef'.repeat(3) + 'b'.repeat(4);

t.test('passwd and group files: the first entry for an id wins, junk lines are skipped', async (t) => {
  const m = parseIdFile('root:x:0:0:root:/root:/bin/bash\n# comment\nbroken\ntoor:x:0:0::/:/bin/sh\nnobody:x:65534:65534::/:/usr/sbin/nologin\n');
  t.same([...m], [[0, 'root'], [65534, 'nobody']]);
});

t.test('account names are reloaded when the file changes', async (t) => {
  const etc = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-etc-'));
  t.teardown(() => fs.rmSync(etc, { recursive: true, force: true }));
  fs.writeFileSync(path.join(etc, 'passwd'), 'alice:x:1000:1000::/:/bin/sh\n');
  fs.writeFileSync(path.join(etc, 'group'), 'staff:x:50:\n');
  const a = new AccountNames(etc, 10_000);
  t.equal(a.userName(1000, 0), 'alice');
  t.equal(a.groupName(50, 0), 'staff');
  t.equal(a.userName(1001, 0), undefined);
  fs.writeFileSync(path.join(etc, 'passwd'), 'alice:x:1000:1000::/:/bin/sh\nbob:x:1001:1001::/:/bin/sh\n');
  fs.utimesSync(path.join(etc, 'passwd'), new Date(), new Date(Date.now() + 5000));
  t.equal(a.userName(1001, 500), undefined, 'a miss re-reads at most once a second');
  t.equal(a.userName(1001, 1500), 'bob', 'a new account appears after a miss');
});

t.test('container ids from the cgroup paths of docker, containerd, cri-o, podman and kubepods', async (t) => {
  t.equal(containerIdFromCgroup(`0::/system.slice/docker-${ID}.scope\n`), ID);
  t.equal(containerIdFromCgroup(`12:pids:/docker/${ID}\n0::/\n`), ID);
  t.equal(containerIdFromCgroup(`0::/kubepods.slice/kubepods-burstable.slice/cri-containerd-${ID}.scope\n`), ID);
  t.equal(containerIdFromCgroup(`0::/machine.slice/libpod-${ID}.scope/container\n`), ID);
  t.equal(containerIdFromCgroup(`0::/kubepods/besteffort/pod1234/${ID}\n`), ID);
  t.equal(containerIdFromCgroup('0::/user.slice/user-1000.slice/session-2.scope\n'), undefined);
  t.equal(containerIdFromCgroup('0::/\n'), undefined);
});

t.test('command lines split on NUL, with or without the trailing one', async (t) => {
  t.same(parseCmdline(Buffer.from('cat\0-n\0a b\0')), ['cat', '-n', 'a b']);
  t.same(parseCmdline(Buffer.from('sh\0-c\0')), ['sh', '-c']);
  t.same(parseCmdline(Buffer.from('')), []);
});

t.test('this process is read from the real /proc; a pid that does not exist is counted', async (t) => {
  const r = new ProcessInfoReader();
  const me = r.info(process.pid)!;
  t.equal(me.executable, process.execPath);
  t.same(me.args, fs.readFileSync('/proc/self/cmdline', 'utf8').split('\0').slice(0, -1));
  t.equal(r.info(2 ** 22 + 1), undefined);
  t.equal(r.unavailable, 1);
});

t.test('the host identity has the kernel boot id', async (t) => {
  const h = hostIdentity();
  t.equal(h.bootId, fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
  t.equal(h.name, os.hostname());
  t.throws(() => hostIdentity('/nonexistent'), /boot id/);
});
