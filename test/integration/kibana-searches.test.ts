// The saved searches find what their titles promise, in real data: a workload through the real
// collector and indexer makes one event of each kind (a shadow read, a killed process, a failed
// open, a write under /etc, an open inside a container cgroup, a deletion, a rename, a chmod and a
// symlink), and each search's KQL, translated
// as Kibana translates it (test/utils/kql.ts), returns exactly those events from Elasticsearch.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { SEARCHES } from '../../kibana/src/saved-objects';
import { drain } from '../utils/compliance';
import { kqlToQuery } from '../utils/kql';
import { pipelineEnv, startCollector, startIndexer, stopService } from '../utils/pipeline';

const run = (script: string, args: string[]): Promise<number | null> =>
  new Promise((resolve) => spawn('/bin/sh', ['-c', script, 'sh', ...args], { cwd: '/', stdio: 'inherit' }).on('exit', (code, sig) => resolve(code ?? (sig === 'SIGKILL' ? 137 : null))));

t.test('each saved search returns exactly the events it is named for', async (t) => {
  const env = pipelineEnv(t);
  const W = env.workDir;
  const etcFile = `/etc/fw-kibana-${crypto.randomBytes(4).toString('hex')}`;
  const containerId = crypto.randomBytes(32).toString('hex');
  // A cgroup named as Docker names a container's (cgroup v1 pids hierarchy, or v2 where mounted).
  const cgroupRoot = ['/sys/fs/cgroup/pids', '/sys/fs/cgroup/unified', '/sys/fs/cgroup'].find((d) => fs.existsSync(path.join(d, 'cgroup.procs')))!;
  const cgroup = path.join(cgroupRoot, 'docker', containerId);
  fs.mkdirSync(cgroup, { recursive: true });
  t.teardown(() => fs.rmdirSync(cgroup));
  t.teardown(() => fs.rmSync(etcFile, { force: true }));
  fs.mkdirSync(path.join(W, 'forbidden'));
  fs.writeFileSync(path.join(W, 'forbidden', 'f'), 'x');
  fs.writeFileSync(path.join(W, 'in-container'), 'x');
  for (const f of ['gone', 'old-name', 'tool']) fs.writeFileSync(path.join(W, f), 'x');
  const collector = await startCollector(t, env, ['--include-path', '/etc/shadow', '--include-path', etcFile, '--kill-path', `${W}/forbidden/`]);
  const indexer = await startIndexer(t, env);
  t.equal(await run('cat /etc/shadow > /dev/null', []), 0, 'root reads /etc/shadow');
  t.equal(await run('cat "$1/missing" 2> /dev/null', [W]), 1, 'cat fails on a missing file');
  t.equal(await run('echo x > "$1"', [etcFile]), 0, 'sh writes a file under /etc');
  t.equal(await run('exec cat "$1/forbidden/f"', [W]), 137, 'cat is killed opening under the kill path');
  // The shell joins the container's cgroup and opens the file itself, then stays a moment so
  // /proc still shows it when the collector reads its cgroup.
  t.equal(await run('echo $$ > "$2/cgroup.procs" && read x < "$1/in-container"; sleep 1', [W, cgroup]), 0, 'an open inside the container cgroup');
  t.equal(await run('rm "$1/gone" && mv "$1/old-name" "$1/new-name" && chmod 4755 "$1/tool" && ln -s /etc/shadow "$1/link"', [W]), 0, 'rm, mv, chmod and ln -s under the work directory');
  await drain(t, env, collector, indexer);

  const expected: Record<string, [string, string][]> = {
    'sensitive-file-reads': [['cat', '/etc/shadow']],
    'denied-or-killed': [['cat', `${W}/forbidden/f`]],
    'failed-opens': [['cat', `${W}/missing`]],
    'writes-under-etc': [['sh', etcFile]],
    'by-container': [['sh', `${W}/in-container`]],
    'file-deletions': [['rm', `${W}/gone`]],
    'file-renames': [['mv', `${W}/new-name`]],
    'permission-owner-changes': [['chmod', `${W}/tool`]],
    'symlink-creations': [['ln', `${W}/link`]],
  };
  for (const s of SEARCHES) {
    const r = await env.es.search<{ process: { name: string }; file: { path: string }; container?: { id: string } }>({ index: `${env.indexPrefix}-*`, size: 100, query: kqlToQuery(s.kql) as never });
    const got = r.hits.hits.map((h) => [h._source!.process.name, h._source!.file.path]);
    t.same(got, expected[s.slug], `${s.title}: ${JSON.stringify(got)}`);
    if (s.slug === 'by-container') t.equal(r.hits.hits[0]?._source?.container?.id, containerId, 'with the container id from the cgroup name');
  }
  await stopService(t, indexer, 'the indexer');
});
