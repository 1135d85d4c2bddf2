// The built-in rule pack on real events from this kernel: quiet on a benign workload (logins are
// not simulated; ordinary reads of /etc, builds, package queries, shells, renames, links, modes and
// git in a work tree), loud on a shadow read, a write to a cron directory, a symlink to the shadow
// file and a setuid copy of a shell.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { toEcsHere as toEcs } from '../utils/kernel';
import { AlertEngine } from '../../indexer/src/alerts/alert-engine';
import { MemoryThresholdStore } from '../../indexer/src/alerts/threshold-store';
import type { EventDocument } from '../../contract/src/event-document';
import { loadRules } from '../../indexer/src/rules/rule-loader';
import { startCapture, tempDir } from '../utils/kernel';

async function alertsFor(t: Test, workload: () => void): Promise<{ events: number; operations: string[]; alerts: string[] }> {
  const { events, capture } = startCapture(t, { ops: undefined }); // every operation, not only opens
  await sleep(100);
  workload();
  await sleep(300);
  await capture.close();
  const engine = new AlertEngine(loadRules(['builtin']), new MemoryThresholdStore());
  const inputs = events.map((e, i) => {
    const doc = toEcs(e) as EventDocument;
    doc.host = { name: os.hostname(), boot: { id: 'b' } };
    return { id: `e${i}`, doc, tsMs: Number(e.wallNs / 1_000_000n) };
  });
  const alerts = await engine.evaluate(inputs);
  const operations = [...new Set(events.map((e) => e.op))].sort();
  return { events: events.length, operations, alerts: alerts.map((a) => `${a.rule.id}: ${a.trigger.doc.process.name} ${a.trigger.doc.file.path}`) };
}

t.test('the built-in pack stays quiet on a benign workload', async (t) => {
  const dir = tempDir(t);
  const r = await alertsFor(t, () => {
    const sh = (cmd: string): void => void spawnSync('/bin/sh', ['-c', cmd], { cwd: dir, stdio: 'ignore' });
    sh('cat /etc/passwd /etc/group /etc/hostname /etc/os-release > /dev/null; ls -la /etc /etc/ssh /etc/cron.d > /dev/null 2>&1; id; getent passwd root');
    sh('ls ~/.ssh > /dev/null 2>&1; cat /etc/ssh/ssh_config > /dev/null 2>&1; cat /etc/ssh/*.pub > /dev/null 2>&1');
    sh('python3 -c "import json,os; json.dumps(dict(os.environ)); open(\'out.txt\',\'w\').write(\'x\')"');
    sh('dpkg -l > /dev/null 2>&1; systemctl --version > /dev/null 2>&1; crontab -l > /dev/null 2>&1; git --version > /dev/null');
    sh('for i in 1 2 3; do echo $i > f$i; cat f$i > /dev/null; done; tar cf a.tar f1 f2 f3; gzip -f a.tar');
    // Every other operation, as builds and rotations do them, in the work directory.
    sh('mkdir -p b/obj && echo x > b/obj/a.o && mv b/obj/a.o b/obj/b.o && ln -s b.o b/obj/c.o && ln b/obj/b.o b/obj/d.o && chmod 755 b/obj/b.o && chmod -R 777 b && truncate -s 0 f1 && mv f2 f2.1 && rm -f f3 b/obj/c.o && rmdir b/obj 2>/dev/null; true');
    sh('git init -q r && cd r && echo a > a && git add a && git -c user.name=t -c user.email=t@t commit -qm a && git mv a b && git -c user.name=t -c user.email=t@t commit -qm b && git gc -q');
  });
  t.ok(r.events > 100, `the workload made ${r.events} events`);
  const wanted = ['chmod', 'link', 'mkdir', 'open', 'rename', 'symlink', 'truncate', 'unlink'];
  t.strictSame(wanted.filter((o) => !r.operations.includes(o)), [], `the workload made every operation it meant to: ${r.operations.join(', ')}`);
  t.same(r.alerts, [], 'no alert');
});

t.test('the built-in pack alerts on a shadow read, a cron write, a symlink to the shadow file and a setuid shell in /tmp', async (t) => {
  const dir = tempDir(t);
  const cronFile = path.join('/etc/cron.d', `fw-test-${process.pid}`);
  t.teardown(() => fs.rmSync(cronFile, { force: true }));
  const r = await alertsFor(t, () => {
    spawnSync('/bin/sh', ['-c', `cat /etc/shadow > /dev/null; echo '# test' > ${cronFile}; ln -s /etc/shadow ${dir}/s; cp /bin/sh ${dir}/.sh && chmod 4755 ${dir}/.sh`], { stdio: 'ignore' });
  });
  t.ok(r.alerts.some((a) => a.startsWith('shadow-read: cat /etc/shadow')), r.alerts.join('\n'));
  t.ok(r.alerts.some((a) => a.startsWith(`cron-write: sh ${cronFile}`)), r.alerts.join('\n'));
  t.ok(r.alerts.some((a) => a.startsWith(`link-to-secret: ln ${dir}/s`)), r.alerts.join('\n'));
  t.ok(r.alerts.some((a) => a.startsWith(`setuid-chmod: chmod ${dir}/.sh`)), r.alerts.join('\n'));
});
