// While Redis is down and the spool cannot be written (a full disk), the log says exactly that:
// no "redis is back", no "spool drained", each dropped batch named once, and the final line and
// the metrics blame the spool being unwritable, not a full spool.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { choosePort } from '../../../stack/src/ports';
import { openWorkload, pipelineEnv, startCollector, stopService, waitFor } from '../../utils/pipeline';

t.test('with Redis unreachable and the spool on a full disk, every message is true', async (t) => {
  const port = (await choosePort('test redis', 16700, { explicit: false })).port;
  const env = pipelineEnv(t, { redisUrl: `redis://127.0.0.1:${port}` }); // nothing listens there
  const spool = path.join(env.stateDir, 'collector', 'spool');
  fs.mkdirSync(spool, { recursive: true });
  // A 64 KiB tmpfs filled to the last byte: root is not stopped by file modes, a full disk stops everyone.
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', spool], { encoding: 'utf8' });
  t.equal(mount.status, 0, `tmpfs mounted on the spool directory ${mount.stderr}`);
  t.teardown(() => void spawnSync('umount', ['-l', spool]));
  const fd = fs.openSync(path.join(spool, 'filler'), 'w');
  try {
    for (;;) fs.writeSync(fd, Buffer.alloc(4096));
  } catch (e) {
    t.equal((e as NodeJS.ErrnoException).code, 'ENOSPC', 'the spool disk is full');
  } finally {
    fs.closeSync(fd);
  }

  const collector = await startCollector(t, env);
  t.equal(await openWorkload(t, env.workDir, 600, 300).done, 600);
  t.ok(await waitFor(async () => (await collector.metrics()).get('filewarden_spool_unwritable_dropped_events_total')! >= 600, 15_000), 'the events are dropped, counted as spool unwritable');
  await stopService(t, collector, 'the collector');
  const log = collector.log();

  t.notMatch(log, /redis is back/, 'never "redis is back": it never was');
  t.notMatch(log, /drained/, 'never "spool drained": nothing was spooled');
  t.equal(log.match(/^queue: redis unavailable/gm)?.length, 1, 'the outage is said once');
  t.equal(log.match(/^spool: cannot write to .*ENOSPC/gm)?.length, 1, 'the spool failure is said once');
  const drops = [...log.matchAll(/^spool: cannot write \(ENOSPC[^)]*\): dropped events seq (\d+)\.\.(\d+) of boot \S+ \(redis unavailable: [^)]*\)$/gm)];
  const dropped = drops.reduce((a, m) => a + Number(m[2]) - Number(m[1]) + 1, 0);
  t.ok(drops.length > 0, `${drops.length} dropped batches named with their sequence ranges and both causes`);
  t.match(log, new RegExp(`dropped ${dropped} \\(spool unwritable\\)`), 'the final line blames the unwritable spool, for the same events');
  t.notMatch(log, /spool full/, 'and never a full spool');
  t.strictSame(fs.readdirSync(spool), ['filler'], 'no partial batch file is left on the full disk');
});
