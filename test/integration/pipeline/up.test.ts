// `filewarden up`, the README's main command: on the embedded stack it runs the collector and the
// indexer, an open on this host becomes searchable, the status line reports it, and SIGINT stops
// both children cleanly.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { tempDir } from '../../utils/kernel';
import { sleep, waitFor } from '../../utils/pipeline';
import { esClient, repoRoot } from '../../utils/stack';

t.test('filewarden up makes an open searchable and shows a live status line', async (t) => {
  const proc = spawn(process.execPath, [path.join(repoRoot, 'bin', 'filewarden.js'), 'up', '--duration', '120'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  t.teardown(() => void proc.kill('SIGKILL'));
  t.ok(await waitFor(async () => /\[index\] index: queue filewarden-events/.test(out) && /\[collect\] collect: queue/.test(out), 60_000), 'both children started');

  const dir = tempDir(t, 'fw-up-');
  const marker = path.join(dir, `evidence-${process.pid}.txt`);
  await sleep(500);
  // From a child process: filewarden never reports its own opens, and this test is not it anyway.
  const child = spawn('/bin/sh', ['-c', `: > "${marker}"`]);
  await new Promise((r) => child.on('exit', r));
  t.ok(fs.existsSync(marker));
  const es = esClient();
  t.ok(
    await waitFor(async () => {
      const r = await es.search({ index: 'filewarden-events-*', query: { term: { 'file.path': marker } } });
      return r.hits.hits.length === 1;
    }, 60_000),
    'the open is searchable in filewarden-events-*',
  );
  t.ok(await waitFor(async () => /status: events\/s \d+ \| queue \d+ batches \| spooled \d+ \| indexed [1-9]\d* \| dead-lettered 0 \| dropped \d+/.test(out), 15_000), 'the status line shows events indexed');
  proc.kill('SIGINT');
  t.equal(await exited, 0, 'up exits 0 on SIGINT');
  t.match(out, /up: stopping \(SIGINT\)/);
  t.match(out, /\[collect\] collect: stopped at seq \d+/, 'the collector flushed and stopped');
  t.match(out, /\[index\] index: stopping/, 'the indexer stopped');
  t.notMatch(out, /exited \(.*\); restarting/, 'no child crashed');
});
