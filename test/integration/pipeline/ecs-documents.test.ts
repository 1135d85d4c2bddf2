// What a security analyst searches: each open becomes an ECS document with the host, boot,
// sequence, user and group names, the process's executable and arguments, and a timestamp
// with every nanosecond. The strict template refuses any field nobody mapped.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import t from 'tap';
import { pipelineEnv, readIndexed, startCollector, startIndexer, stopService, waitFor, waitQueueEmpty } from '../../utils/pipeline';

interface Doc {
  '@timestamp': string;
  event: { sequence: number; id: string; outcome: string; type: string[] };
  file: { path: string; name: string; directory: string; extension?: string; inode?: string; device?: string };
  user: { id: string; name?: string; effective: { id: string; name?: string } };
  group: { id: string; name?: string };
  process: { pid: number; name: string; executable?: string; args?: string[]; args_count?: number };
  host: { name: string; id?: string; boot: { id: string } };
  filewarden: { seq: number; boot_id: string; boot_ns: string; process_info: string; path: { raw_b64: string }; hook: string };
}

t.test('an open by nobody is indexed with names, executable, arguments, host, boot and sequence', async (t) => {
  const env = pipelineEnv(t);
  fs.chmodSync(env.workDir, 0o777);
  const collector = await startCollector(t, env);
  const indexer = await startIndexer(t, env);
  // The child stays alive a moment after its open, so /proc still has its executable and args.
  // A shell, not node: tap instruments node children, and its hooks cannot write as nobody.
  const script = ': > "$1/report.txt"; sleep 1.5';
  const child = spawn('/bin/sh', ['-c', script, 'sh', env.workDir], { uid: 65534, gid: 65534, stdio: 'inherit' });
  await new Promise((r) => child.on('exit', r));
  t.ok(await waitFor(async () => (await readIndexed(env)).some((d) => d.path.endsWith('/report.txt')), 30_000), 'the open is searchable');
  await stopService(t, collector, 'the collector');
  t.ok(await waitQueueEmpty(indexer, 30_000));
  const r = await env.es.search<Doc>({ index: `${env.indexPrefix}-*`, query: { term: { 'file.name': 'report.txt' } } });
  t.equal(r.hits.hits.length, 1, 'exactly one document');
  const hit = r.hits.hits[0];
  const d = hit._source!;
  const boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  t.equal(hit._id, d.event.id, '_id is event.id');
  t.equal(hit._id, `${boot}-${d.filewarden.boot_ns}-${d.process.pid}`, '_id: boot, kernel timestamp, thread');
  t.match(hit._index, new RegExp(`^${env.indexPrefix}-\\d{4}\\.\\d{2}\\.\\d{2}$`), 'a daily index');
  t.match(d['@timestamp'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/, '@timestamp keeps nanoseconds');
  t.same(d.host, { name: os.hostname(), id: fs.readFileSync('/etc/machine-id', 'utf8').trim(), boot: { id: boot } });
  t.equal(d.filewarden.boot_id, boot);
  t.equal(d.event.sequence, d.filewarden.seq);
  t.same(d.user, { id: '65534', name: 'nobody', effective: { id: '65534', name: 'nobody' } });
  t.same(d.group, { id: '65534', name: 'nogroup' });
  t.equal(d.process.name, 'sh');
  t.equal(d.process.executable, fs.realpathSync('/bin/sh'));
  t.same(d.process.args, ['/bin/sh', '-c', script, 'sh', env.workDir], 'the arguments, exactly');
  t.equal(d.process.args_count, 5);
  t.equal(d.filewarden.process_info, 'proc');
  t.same(d.file, { path: `${env.workDir}/report.txt`, name: 'report.txt', directory: env.workDir, extension: 'txt', inode: d.file.inode, device: d.file.device });
  t.match(d.file, { inode: /^\d+$/, device: /^\d+:\d+$/ }, 'inode and device of the opened file');
  t.equal(Buffer.from(d.filewarden.path.raw_b64, 'base64').toString(), `${env.workDir}/report.txt`, 'the raw path bytes in base64');
  t.same([d.event.outcome, d.event.type], ['success', ['access', 'change', 'creation']]);

  const bad = await env.es.index({ index: hit._index, document: { ...d, surprise: 1 } }).catch((e: { meta?: { statusCode?: number }; message: string }) => e);
  t.equal((bad as { meta?: { statusCode?: number } }).meta?.statusCode, 400, 'the strict mapping refuses an unmapped field');
  await stopService(t, indexer, 'the indexer');
});
