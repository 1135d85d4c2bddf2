// The host path of a file seen in another mount namespace: the mount with the file's device whose
// root is the longest prefix of its filesystem path, confirmed by the host (the path ends in that
// mount, at the file's inode);
// a file the host mounts nowhere, or reaches only through another mount, gets no host path.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { native } from '../../../collector/src/probe/native';
import { fsPolicyEntries, HostPathMapper, inodePolicyEntries, kernelDev, parseMountinfo } from '../../../collector/src/resolve/host-path';

const layout = native().layout();

function fixture(t: Test) {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'fw-hostpath-')));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'vol'));
  fs.writeFileSync(path.join(dir, 'vol', 'f'), 'f');
  const st = fs.statSync(path.join(dir, 'vol', 'f'), { bigint: true });
  const dev = kernelDev(st.dev);
  const mm = `${Math.floor(dev / 2 ** 20)}:${dev % 2 ** 20}`;
  const mapper = (lines: string[]) => {
    const file = path.join(dir, 'mountinfo');
    fs.writeFileSync(file, lines.join('\n') + '\n');
    return new HostPathMapper({ mountinfo: file });
  };
  // The real mount the fixture lives in: the host-path check compares mount ids.
  const sm = native().statMount(Buffer.from(dir));
  const V = 'mntId' in sm ? sm.mntId : 0;
  return { dir, dev, mm, ino: st.ino, mapper, V, P: V + 1000 };
}

t.test('mountinfo fields are unescaped to bytes (\\040 is a space)', async (t) => {
  const [m] = parseMountinfo('36 35 98:0 /mnt\\040a /srv/x\\134y rw,noatime master:1 - ext3 /dev/root rw\n');
  t.strictSame({ id: m.id, parent: m.parent, dev: m.dev, root: m.root.toString(), mp: m.mountPoint.toString() }, { id: 36, parent: 35, dev: 98 * 2 ** 20, root: '/mnt a', mp: '/srv/x\\y' });
});

t.test('the mount whose root is the longest prefix gives the host path, confirmed by the same device and inode', async (t) => {
  const { dir, dev, mm, ino, mapper, V, P } = fixture(t);
  const m = mapper([`${P} 0 ${mm} / / rw - ext4 x rw`, `${V} ${P} ${mm} /volumes/v1 ${dir}/vol rw - ext4 x rw`]);
  t.strictSame(m.map(dev, Buffer.from('/volumes/v1/f'), ino), { path: Buffer.from(`${dir}/vol/f`), status: 'verified' });
});

t.test('a path the host reaches only as another file (another inode) or through another mount is unverified, never given', async (t) => {
  const { dir, dev, mm, ino, mapper, V, P } = fixture(t);
  const m = mapper([`${V} ${P} ${mm} /volumes/v1 ${dir}/vol rw - ext4 x rw`]);
  t.strictSame(m.map(dev, Buffer.from('/volumes/v1/f'), ino + 1n), { status: 'unverified' });
  const other = mapper([`${V + 5000} ${P} ${mm} /volumes/v1 ${dir}/vol rw - ext4 x rw`]);
  t.strictSame(other.map(dev, Buffer.from('/volumes/v1/f'), ino), { status: 'unverified' }, 'the path ends in mount V, not the one named');
});

t.test('a device the host does not mount, or a part of it no host mount shows, is not_mounted', async (t) => {
  const { dir, dev, mm, ino, mapper, V, P } = fixture(t);
  const m = mapper([`${V} ${P} ${mm} /volumes/v1 ${dir}/vol rw - ext4 x rw`]);
  t.strictSame(m.map(dev + 1, Buffer.from('/volumes/v1/f'), ino), { status: 'not_mounted' });
  t.strictSame(m.map(dev, Buffer.from('/volumes/v10/f'), ino), { status: 'not_mounted' }, 'a root is a prefix by components, not bytes');
});

t.test('a file already gone: the mount table alone, unless another host mount lies on its way', async (t) => {
  const { dir, dev, mm, ino, mapper, V, P } = fixture(t);
  const open = mapper([`${P} 0 ${mm} / / rw - ext4 x rw`, `${V} ${P} ${mm} /volumes/v1 ${dir}/vol rw - ext4 x rw`]);
  t.strictSame(open.map(dev, Buffer.from('/volumes/v1/gone'), ino), { path: Buffer.from(`${dir}/vol/gone`), status: 'mount_table' });
  const covered = mapper([`${V} ${P} ${mm} /volumes/v1 ${dir}/vol rw - ext4 x rw`, `${V + 2000} ${V} 0:99 / ${dir}/vol/sub rw - tmpfs x rw`]);
  t.strictSame(covered.map(dev, Buffer.from('/volumes/v1/sub/gone'), ino), { status: 'unverified' }, 'a tmpfs on the way hides it');
  const stacked = mapper([`${V} ${P} ${mm} /volumes/v1 ${dir}/vol rw - ext4 x rw`, `${V + 2000} ${V} 0:99 / ${dir}/vol rw - tmpfs x rw`]);
  t.strictSame(stacked.map(dev, Buffer.from('/volumes/v1/gone'), ino), { status: 'unverified' }, 'a mount on top of it hides it');
});

t.test('st_dev converts to the kernel encoding of the records', async (t) => {
  t.equal(kernelDev(0x801n), 8 * 2 ** 20 + 1, '8:1');
  t.equal(kernelDev(0x10300n + 0x05n), 259 * 2 ** 20 + 5, '259:5');
});

t.test('policy paths translate onto the host filesystems: the mount holding each, and every mount under it whole', async (t) => {
  const mounts = parseMountinfo(
    [
      '1 0 254:0 / / rw - ext4 x rw',
      '2 1 254:0 /srv/data /mnt/d rw - ext4 x rw',
      '3 1 0:50 / /etc/ssl rw - tmpfs x rw',
      '4 2 8:1 /sub /mnt/d/x rw - xfs y rw',
    ].join('\n'),
  );
  const got = fsPolicyEntries(
    [
      { path: '/etc/', action: 'kill' },
      { path: '/mnt/d/secret', action: 'deny' },
      { path: '/mnt/d', action: 'kill' },
      { path: '/etc/pub', action: 'allow', comm: 'x' },
    ],
    mounts,
    layout.prefixMax - layout.fsKeyDevLen,
  ).map((e) => [e.path.toString(), e.fs?.dev, e.action]);
  t.strictSame(got, [
    ['/etc/', 254 * 2 ** 20, 'kill'],
    ['/', 50, 'kill'],
    ['/srv/data/secret', 254 * 2 ** 20, 'deny'],
    ['/srv/data/', 254 * 2 ** 20, 'kill'],
    ['/sub/', 8 * 2 ** 20 + 1, 'kill'],
  ], 'a scoped entry is not translated');
});

t.test('a deny or kill entry naming an existing regular file also protects it by inode; symlinks, directories, prefixes, allows, scoped and missing entries do not', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-inode-policy-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'file');
  fs.writeFileSync(file, 'x');
  fs.mkdirSync(path.join(dir, 'sub'));
  fs.symlinkSync(file, path.join(dir, 'link'));
  const st = fs.statSync(file, { bigint: true });
  const fsOf = { dev: kernelDev(st.dev), ino: st.ino };
  const out = inodePolicyEntries([
    { path: file, action: 'kill' },
    { path: path.join(dir, 'link'), action: 'deny' },
    { path: path.join(dir, 'sub'), action: 'kill' },
    { path: `${dir}/`, action: 'kill' },
    { path: file, action: 'allow' },
    { path: file, action: 'kill', comm: 'cat' },
    { path: path.join(dir, 'missing'), action: 'kill' },
  ]);
  t.strictSame(
    out.map((e) => ({ path: e.path.toString(), action: e.action, fs: e.fs })),
    [{ path: file, action: 'kill', fs: fsOf }],
    'the regular file only: a symlink at a protected name is not followed (whoever writes its directory could aim it at any file)',
  );
});
