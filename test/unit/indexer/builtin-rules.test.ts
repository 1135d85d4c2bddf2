// The built-in pack over every file operation (documents built by the contract's buildDocument):
// each rule fires on its attack and stays quiet on the benign operation that looks most like it,
// and a benign workload of package installs, log rotation, builds and git raises no alert.
import t from 'tap';
import type { EventDocument } from '../../../contract/src/event-document';
import { loadRules } from '../../../indexer/src/rules/rule-loader';
import { compileRule } from '../../../indexer/src/rules/rule-matcher';
import { O, operationDocument as op, versionOneOpen } from '../../utils/operation-events';

const pack = loadRules(['builtin']).map(compileRule);
const firing = (d: EventDocument): string[] => pack.filter((r) => r.matches(d)).map((r) => r.rule.id);

const dpkg = { comm: 'dpkg', uid: 0 };
const root = { uid: 0 };

/** Each new rule: an attack it must catch and the benign operation closest to it. */
const cases: { rule: string; attack: EventDocument; benign: EventDocument; why: string }[] = [
  { rule: 'log-tampering', why: 'logrotate renames syslog to syslog.1', attack: op('unlink', '/var/log/auth.log', { comm: 'rm', ...root }), benign: op('rename', '/var/log/syslog.1', { comm: 'logrotate', second: '/var/log/syslog', ...root }) },
  { rule: 'log-tampering', why: 'logrotate deletes the oldest rotated log', attack: op('rename', '/tmp/x', { comm: 'mv', second: '/var/log/secure', ...root }), benign: op('unlink', '/var/log/syslog.7.gz', { comm: 'logrotate', ...root }) },
  { rule: 'log-tampering', why: 'logrotate copytruncate', attack: op('truncate', '/var/log/syslog', { comm: 'truncate', length: 0n, ...root }), benign: op('truncate', '/var/log/app.log', { comm: 'logrotate', length: 0n, ...root }) },
  { rule: 'log-wiped-by-open', why: 'rsyslogd appends', attack: op('open', '/var/log/auth.log', { comm: 'bash', openFlags: O.WRONLY | O.CREAT | O.TRUNC, ...root }), benign: op('open', '/var/log/auth.log', { comm: 'rsyslogd', openFlags: O.WRONLY | O.CREAT | O.APPEND, ...root }) },
  { rule: 'system-binary-replaced', why: 'dpkg renames foo.dpkg-new onto foo', attack: op('rename', '/usr/bin/sudo', { comm: 'mv', second: '/tmp/sudo', ...root }), benign: op('rename', '/usr/bin/foo', { second: '/usr/bin/foo.dpkg-new', ...dpkg }) },
  { rule: 'system-binary-replaced', why: 'dpkg links the old file to foo.dpkg-tmp', attack: op('link', '/usr/lib/x86_64-linux-gnu/libpam.so.0', { comm: 'ln', second: '/tmp/libpam.so.0', ...root }), benign: op('link', '/usr/bin/foo.dpkg-tmp', { second: '/usr/bin/foo', ...dpkg }) },
  { rule: 'system-binary-replaced', why: 'update-alternatives swaps its symlink', attack: op('symlink', '/usr/sbin/sshd', { comm: 'ln', second: '/tmp/sshd', ...root }), benign: op('rename', '/usr/bin/editor', { comm: 'update-alternat', second: '/usr/bin/editor.dpkg-tmp', ...root }) },
  { rule: 'system-binary-replaced', why: 'python renames bytecode within __pycache__', attack: op('rename', '/usr/lib/python3/dist-packages/__pycache__/x.pyc', { comm: 'python3', second: '/tmp/evil.pyc', ...root }), benign: op('rename', '/usr/lib/python3/dist-packages/__pycache__/x.pyc', { comm: 'python3', second: '/usr/lib/python3/dist-packages/__pycache__/x.pyc.140', ...root }) },
  { rule: 'setuid-chmod', why: 'dpkg sets the mode of a setuid program it installs', attack: op('chmod', '/tmp/.sh', { comm: 'chmod', mode: 0o4755, ...root }), benign: op('chmod', '/usr/bin/passwd.dpkg-new', { mode: 0o4755, ...dpkg }) },
  { rule: 'setuid-chmod', why: 'a plain executable mode', attack: op('chmod', '/usr/bin/find', { comm: 'chmod', mode: 0o6755, ...root }), benign: op('chmod', '/usr/bin/find', { comm: 'chmod', mode: 0o755, ...root }) },
  { rule: 'world-writable-chmod', why: 'the shared temporary directory is sticky and world-writable by design', attack: op('chmod', '/etc/cron.d', { comm: 'chmod', mode: 0o777, ...root }), benign: op('chmod', '/tmp', { comm: 'systemd-tmpfile', mode: 0o1777, ...root }) },
  { rule: 'link-to-secret', why: 'a symlink to a public host key', attack: op('symlink', '/tmp/s', { comm: 'ln', second: '/etc/shadow' }), benign: op('symlink', '/tmp/s', { comm: 'ln', second: '/etc/ssh/ssh_host_ed25519_key.pub' }) },
  { rule: 'link-to-secret', why: 'a relative symlink within a project', attack: op('symlink', '/tmp/k', { comm: 'ln', second: '../../root/.ssh/id_ed25519' }), benign: op('symlink', '/tmp/build/lib', { comm: 'ln', second: '../lib' }) },
  { rule: 'link-to-secret', why: 'a hard link of an ordinary file', attack: op('link', '/tmp/h', { comm: 'ln', second: '/root/.ssh/id_ed25519', ...root }), benign: op('link', '/tmp/h', { comm: 'ln', second: '/etc/hosts', ...root }) },
  { rule: 'config-replaced', why: 'crontab writes a copy and renames it into the spool', attack: op('rename', '/etc/cron.d/job', { comm: 'mv', second: '/tmp/job', ...root }), benign: op('rename', '/var/spool/cron/crontabs/root', { comm: 'crontab', second: '/var/spool/cron/crontabs/tmp.XXXX', ...root }) },
  { rule: 'config-replaced', why: 'vipw renames its edited copy over /etc/passwd', attack: op('link', '/etc/sudoers.d/zz', { comm: 'ln', second: '/tmp/sudo-all', ...root }), benign: op('rename', '/etc/passwd', { comm: 'vipw', second: '/etc/passwd.edit', ...root }) },
  { rule: 'config-replaced', why: 'systemctl enable symlinks a unit into a .wants directory', attack: op('truncate', '/etc/shadow', { comm: 'truncate', length: 0n, ...root }), benign: op('symlink', '/etc/systemd/system/multi-user.target.wants/ssh.service', { comm: 'systemctl', second: '/lib/systemd/system/ssh.service', ...root }) },
  { rule: 'ld-preload-change', why: 'every program start reads the file', attack: op('rename', '/etc/ld.so.preload', { comm: 'mv', second: '/tmp/p', ...root }), benign: op('open', '/etc/ld.so.preload', { comm: 'bash' }) },
  { rule: 'ld-preload-change', why: 'ld.so.cache is rewritten by ldconfig, not the preload list', attack: op('symlink', '/etc/ld.so.preload', { comm: 'ln', second: '/tmp/p', ...root }), benign: op('rename', '/etc/ld.so.cache', { comm: 'ldconfig', second: '/etc/ld.so.cache~', ...root }) },
  { rule: 'ld-preload-change', why: 'a chmod elsewhere in /etc', attack: op('chmod', '/etc/ld.so.preload', { comm: 'chmod', mode: 0o644, ...root }), benign: op('chmod', '/etc/ld.so.conf', { comm: 'chmod', mode: 0o644, ...root }) },
];

for (const c of cases) {
  t.test(`${c.rule} fires on its attack (${c.attack.filewarden.operation} by ${c.attack.process.name} of ${c.attack.file.path}) and not on its benign counterpart: ${c.why}`, async (t) => {
    t.strictSame(firing(c.attack), [c.rule]);
    t.strictSame(firing(c.benign), []);
  });
}

/** A package install and upgrade as dpkg does it (strace of `dpkg -i`), with its helpers. */
const packageInstall = (): EventDocument[] => [
  op('open', '/usr/bin/foo.dpkg-new', { openFlags: O.WRONLY | O.CREAT | O.TRUNC, ...dpkg }),
  op('chown', '/usr/bin/foo.dpkg-new', dpkg),
  op('chmod', '/usr/bin/foo.dpkg-new', { mode: 0o4755, ...dpkg }),
  op('link', '/usr/bin/foo.dpkg-tmp', { second: '/usr/bin/foo', ...dpkg }),
  op('rename', '/usr/bin/foo', { second: '/usr/bin/foo.dpkg-new', ...dpkg }),
  op('chmod', '/usr/bin/foo.dpkg-tmp', { mode: 0o600, ...dpkg }),
  op('unlink', '/usr/bin/foo.dpkg-tmp', dpkg),
  op('rename', '/usr/lib/foo', { second: '/usr/lib/foo.dpkg-new', ...dpkg }),
  op('rename', '/etc/cron.d/foo', { second: '/etc/cron.d/foo.dpkg-new', ...dpkg }),
  op('symlink', '/usr/bin/editor.dpkg-tmp', { comm: 'update-alternat', second: '/etc/alternatives/editor', ...root }),
  op('rename', '/usr/bin/editor', { comm: 'update-alternat', second: '/usr/bin/editor.dpkg-tmp', ...root }),
  op('symlink', '/usr/lib/x86_64-linux-gnu/libfoo.so.1.#ldconfig#', { comm: 'ldconfig', second: 'libfoo.so.1.2', ...root }),
  op('rename', '/usr/lib/x86_64-linux-gnu/libfoo.so.1', { comm: 'ldconfig', second: '/usr/lib/x86_64-linux-gnu/libfoo.so.1.#ldconfig#', ...root }),
  op('rename', '/etc/ld.so.cache', { comm: 'ldconfig', second: '/etc/ld.so.cache~', ...root }),
  op('chmod', '/usr/bin/passwd', { comm: 'dpkg-statoverri', mode: 0o4755, ...root }),
  op('rename', '/var/log/apt/eipp.log.xz', { comm: 'apt-get', second: '/var/log/apt/eipp.log.xz.tmp', ...root }),
];

/** One night's logrotate (rename, delete, copytruncate), journald rotating and vacuuming. */
const logRotation = (): EventDocument[] => [
  op('unlink', '/var/log/syslog.7.gz', { comm: 'logrotate', ...root }),
  op('rename', '/var/log/syslog.2.gz', { comm: 'logrotate', second: '/var/log/syslog.1.gz', ...root }),
  op('rename', '/var/log/syslog.1', { comm: 'logrotate', second: '/var/log/syslog', ...root }),
  op('open', '/var/log/syslog', { comm: 'logrotate', openFlags: O.WRONLY | O.CREAT, ...root }),
  op('chown', '/var/log/syslog', { comm: 'logrotate', ...root }),
  op('truncate', '/var/log/nginx/access.log', { comm: 'logrotate', length: 0n, ...root }),
  op('open', '/var/log/syslog', { comm: 'rsyslogd', openFlags: O.WRONLY | O.CREAT | O.APPEND, ...root }),
  op('rename', '/var/log/journal/m/system@x.journal', { comm: 'systemd-journal', second: '/var/log/journal/m/system.journal', ...root }),
  op('unlink', '/var/log/journal/m/system@old.journal', { comm: 'systemd-journal', ...root }),
  op('open', '/var/log/wtmp', { comm: 'sshd', openFlags: O.WRONLY | O.APPEND, ...root }),
];

/** A C build in /tmp and git work in a repository, as an ordinary user. */
const buildAndGit = (): EventDocument[] => [
  op('mkdir', '/tmp/build/obj', { comm: 'make', mode: 0o755 }),
  op('open', '/tmp/build/obj/a.o', { comm: 'as', openFlags: O.WRONLY | O.CREAT | O.TRUNC }),
  op('open', '/tmp/ccX.s', { comm: 'cc1', openFlags: O.WRONLY | O.CREAT | O.TRUNC }),
  op('unlink', '/tmp/ccX.s', { comm: 'gcc' }),
  op('open', '/tmp/build/app', { comm: 'ld', openFlags: O.RDWR | O.CREAT | O.TRUNC }),
  op('chmod', '/tmp/build/app', { comm: 'ld', mode: 0o755 }),
  op('rename', '/tmp/build/libx.a', { comm: 'ar', second: '/tmp/build/stXYZ' }),
  op('symlink', '/tmp/build/libx.so', { comm: 'ln', second: 'libx.so.1' }),
  op('chmod', '/tmp/build/dist', { comm: 'chmod', mode: 0o777 }),
  op('open', '/home/u/src/.git/index.lock', { comm: 'git', openFlags: O.RDWR | O.CREAT }),
  op('rename', '/home/u/src/.git/index', { comm: 'git', second: '/home/u/src/.git/index.lock' }),
  op('mkdir', '/home/u/src/.git/objects/ab', { comm: 'git', mode: 0o777 }),
  op('link', '/home/u/src/.git/objects/ab/cdef', { comm: 'git', second: '/home/u/src/.git/objects/ab/tmp_obj_x' }),
  op('unlink', '/home/u/src/.git/objects/ab/tmp_obj_x', { comm: 'git' }),
  op('chmod', '/home/u/src/.git/objects/ab/cdef', { comm: 'git', mode: 0o444 }),
  op('symlink', '/home/u/src/docs/link', { comm: 'git', second: '../README.md' }),
  op('unlink', '/home/u/src/old.c', { comm: 'git' }),
  op('open', '/etc/ld.so.preload', { comm: 'git' }),
  versionOneOpen('/etc/passwd', { comm: 'git' }),
  op('open', '/etc/shadow', { comm: 'sudo', ...root }),
];

t.test('a benign workload of package installs, log rotation, a build in /tmp and git raises no alert', async (t) => {
  const docs = [...packageInstall(), ...logRotation(), ...buildAndGit()];
  t.strictSame(docs.flatMap((d) => firing(d).map((id) => `${id}: ${d.process.name} ${d.filewarden.operation ?? 'open'} ${d.file.path}`)), []);
});

t.test('the open rules stay opens-only: a rule with access: says on: [open], and no other operation on their paths fires them', async (t) => {
  const withAccess = pack.filter((r) => r.rule.match.access);
  t.ok(withAccess.length >= 8, `${withAccess.length} rules match on access`);
  t.strictSame(withAccess.filter((r) => JSON.stringify(r.rule.match.on) !== '["open"]').map((r) => r.rule.id), []);
  const ops = ['unlink', 'rename', 'chmod', 'chown', 'truncate', 'setxattr'] as const;
  const paths = ['/etc/shadow', '/etc/passwd', '/etc/sudoers', '/etc/crontab', '/etc/systemd/system/x.service', '/root/.ssh/id_rsa', '/root/.aws/credentials'];
  const fired = paths.flatMap((p) => ops.map((o) => op(o, p, { comm: 'dpkg', uid: 0, second: o === 'rename' ? `${p}.dpkg-new` : undefined })));
  t.strictSame(fired.flatMap((d) => firing(d).filter((id) => withAccess.some((r) => r.rule.id === id))), []);
});
