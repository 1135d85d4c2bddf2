// The VM kernel matrix's harness: fetches Debian's stock kernel packages with apt-get download,
// keeps what a boot needs (vmlinuz, config, the virtio/9p modules and their dependencies), builds
// a busybox-static initramfs, and boots it under qemu (TCG) with the host root shared read-only
// over 9p and a writable 9p results directory. The guest runs test/vm/guest/suite.ts.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './stack';

export interface GuestKernel {
  /** Matrix column: debian-6.1, debian-6.12. */
  name: string;
  /** The linux-image package actually used. */
  package: string;
  vmlinuz: string;
  config: string;
  initrd: string;
}

const cacheDir = path.join(repoRoot, 'build', 'vm');
fs.mkdirSync(cacheDir, { recursive: true });
// Loaded in this order with their dependencies first; a module built into the kernel is skipped.
const GUEST_MODULES = ['virtio_pci', '9pnet_virtio', '9p'];

function sh(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

/** The newest linux-image package of a Debian series: 6.1 by ABI number, 6.12 through its meta-package. */
export function resolvePackage(series: '6.1' | '6.12'): string {
  if (series === '6.12') {
    const m = /Depends: (linux-image-6\.12\.\S+-amd64)/.exec(sh('apt-cache', ['depends', 'linux-image-6.12-amd64']));
    if (!m) throw new Error('apt-cache: linux-image-6.12-amd64 does not depend on a 6.12 kernel image');
    return m[1];
  }
  const names = sh('apt-cache', ['pkgnames', 'linux-image-6.1.0-'])
    .split('\n')
    .filter((n) => /^linux-image-6\.1\.0-\d+-amd64$/.test(n));
  if (names.length === 0) throw new Error('apt-cache: no linux-image-6.1.0-*-amd64 package');
  return names.sort((a, b) => Number(/-(\d+)-amd64$/.exec(a)![1]) - Number(/-(\d+)-amd64$/.exec(b)![1])).pop()!;
}

/** A module's direct dependencies, from the depends= entry of its .modinfo section. */
export function moduleDepends(ko: Buffer): string[] {
  const i = ko.indexOf('depends=');
  if (i < 0) return [];
  const end = ko.indexOf(0, i);
  const v = ko.subarray(i + 'depends='.length, end).toString();
  return v.length ? v.split(',') : [];
}

function readModule(file: string): Buffer {
  return file.endsWith('.xz') ? execFileSync('xz', ['-dc', file], { maxBuffer: 64 << 20 }) : fs.readFileSync(file);
}

/** Fetches and unpacks the kernel once; later runs reuse build/vm/<package>. */
export function prepareKernel(name: string, series: '6.1' | '6.12', log: (l: string) => void): GuestKernel {
  const pkg = resolvePackage(series);
  const dir = path.join(cacheDir, pkg);
  const done = path.join(dir, 'ready');
  const k: GuestKernel = { name, package: pkg, vmlinuz: path.join(dir, 'vmlinuz'), config: path.join(dir, 'config'), initrd: path.join(dir, 'initrd.gz') };
  if (fs.existsSync(done)) return k;
  log(`vm: fetching ${pkg}`);
  fs.rmSync(dir, { recursive: true, force: true });
  const tree = path.join(dir, 'tree');
  fs.mkdirSync(tree, { recursive: true });
  sh('apt-get', ['download', '-q', pkg], { cwd: dir });
  const deb = fs.readdirSync(dir).find((f) => f.endsWith('.deb'))!;
  sh('dpkg-deb', ['-x', path.join(dir, deb), tree]);
  const boot = path.join(tree, 'boot');
  const ver = fs.readdirSync(boot).find((f) => f.startsWith('vmlinuz-'))!.slice('vmlinuz-'.length);
  fs.copyFileSync(path.join(boot, `vmlinuz-${ver}`), k.vmlinuz);
  fs.copyFileSync(path.join(boot, `config-${ver}`), k.config);

  // Index the package's modules by name ('-' and '_' are the same to the kernel).
  const modRoot = path.join(tree, 'lib', 'modules', ver);
  const files = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.ko(\.xz)?$/.test(e.name)) files.set(e.name.replace(/\.ko(\.xz)?$/, '').replace(/-/g, '_'), p);
    }
  };
  walk(modRoot);
  const builtin = new Set(
    fs
      .readFileSync(path.join(modRoot, 'modules.builtin'), 'utf8')
      .split('\n')
      .map((l) => path.basename(l).replace(/\.ko$/, '').replace(/-/g, '_')),
  );
  const order: string[] = [];
  const bodies = new Map<string, Buffer>();
  const visit = (m: string): void => {
    if (order.includes(m) || builtin.has(m)) return;
    const f = files.get(m);
    if (!f) throw new Error(`${pkg}: module ${m} is neither in the package nor built in`);
    const body = readModule(f);
    for (const d of moduleDepends(body)) visit(d.replace(/-/g, '_'));
    bodies.set(m, body);
    order.push(m);
  };
  GUEST_MODULES.forEach(visit);

  const root = path.join(dir, 'initramfs');
  for (const d of ['bin', 'dev', 'proc', 'sys', 'host', 'modules']) fs.mkdirSync(path.join(root, d), { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(root, 'bin', 'busybox'));
  for (const [m, body] of bodies) fs.writeFileSync(path.join(root, 'modules', `${m}.ko`), body);
  fs.writeFileSync(path.join(root, 'init'), initScript(order), { mode: 0o755 });
  execFileSync('/bin/sh', ['-c', `cd "${root}" && /bin/busybox find . | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -1 > "${k.initrd}"`]);
  fs.rmSync(tree, { recursive: true, force: true });
  fs.rmSync(path.join(dir, deb), { force: true });
  fs.writeFileSync(done, `${pkg}\nmodules: ${order.join(' ')}\n`);
  log(`vm: ${pkg} ready (modules: ${order.join(' ') || 'all built in'})`);
  return k;
}

/** PID 1 in the guest: modules, the host root over 9p, the kernel filesystems, then the suite. */
function initScript(modules: string[]): string {
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in ${modules.join(' ')}; do insmod /modules/$m.ko || echo "FW_VM: insmod $m failed"; done
arg() { sed -n "s/.*$1=\\([^ ]*\\).*/\\1/p" /proc/cmdline; }
repo=$(arg fw.repo); kernel=$(arg fw.kernel)
mount -t 9p -o trans=virtio,version=9p2000.L,ro hostroot /host || { echo "FW_VM: cannot mount the host root"; poweroff -f; }
mount -t proc proc /host/proc; mount -t sysfs sys /host/sys; mount -t devtmpfs dev /host/dev
mount -t tracefs tracefs /host/sys/kernel/tracing; mount -t securityfs securityfs /host/sys/kernel/security
mount -t bpf bpf /host/sys/fs/bpf; mount -t debugfs debugfs /host/sys/kernel/debug
mount -t tmpfs tmp /host/var/tmp; mount -t tmpfs run /host/run; mkdir -p /host/run/fw-results
mount -t 9p -o trans=virtio,version=9p2000.L results /host/run/fw-results || echo "FW_VM: cannot mount the results directory"
echo "FW_VM: $(uname -r) up after $(cut -d' ' -f1 /proc/uptime) s"
chroot /host /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TMPDIR=/var/tmp FW_VM_KERNEL_CONFIG=/run/fw-results/config \\
  /bin/sh -c "cd $repo && exec node dist/test/vm/guest/suite.js $kernel /run/fw-results/results.ndjson"
echo "FW_VM_EXIT=$?"
poweroff -f
`;
}

export interface BootResult {
  console: string;
  timedOut: boolean;
  seconds: number;
  /** The suite's NDJSON lines. */
  results: string;
}

/** Boots the kernel with the suite; kills qemu after `timeoutMs`. */
export async function bootGuest(k: GuestKernel, timeoutMs: number): Promise<BootResult> {
  const results = fs.mkdtempSync(path.join(cacheDir, `results-${k.name}-`));
  fs.copyFileSync(k.config, path.join(results, 'config'));
  const args = [
    ...['-accel', 'tcg', '-cpu', 'max', '-m', '2048', '-smp', '2', '-nographic', '-no-reboot'],
    ...['-kernel', k.vmlinuz, '-initrd', k.initrd],
    ...['-append', `console=ttyS0 quiet panic=-1 lsm=lockdown,capability,landlock,bpf fw.repo=${repoRoot} fw.kernel=${k.name}`],
    ...['-virtfs', 'local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap'],
    ...['-virtfs', `local,path=${results},mount_tag=results,security_model=passthrough`],
  ];
  const t0 = Date.now();
  const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  qemu.stdout.on('data', (d: Buffer) => (out += d.toString()));
  qemu.stderr.on('data', (d: Buffer) => (out += d.toString()));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    qemu.kill('SIGKILL');
  }, timeoutMs);
  await new Promise((r) => qemu.on('close', r));
  clearTimeout(timer);
  const file = path.join(results, 'results.ndjson');
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  fs.rmSync(results, { recursive: true, force: true });
  return { console: out, timedOut, seconds: (Date.now() - t0) / 1000, results: text };
}

/** The host column: the same suite, run natively. */
export function runOnHost(): BootResult {
  const file = path.join(fs.mkdtempSync(path.join(cacheDir, 'results-host-')), 'results.ndjson');
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'dist', 'test', 'vm', 'guest', 'suite.js'), 'host', file], { encoding: 'utf8' });
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
  return { console: r.stdout + r.stderr, timedOut: false, seconds: (Date.now() - t0) / 1000, results: text };
}
