// Faults 3 and 4, beyond one collector and one indexer: two indexers share one queue and one of them
// is killed with SIGKILL; three collectors, each with its own host identity, state directory and
// cgroup workload, ship to one Redis and two indexers. Exactly once, per host.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { loadOrCreateHostKey } from '../../../collector/src/integrity/hash-chain';
import { expectExactlyOnce, indexNames, openWorkload, pipelineEnv, readIndexed, startCollector, startIndexer, stopService, waitFor, waitQueueEmpty } from '../../utils/pipeline';
import { tempDir } from '../../utils/kernel';
import { cli, uniqueName } from '../../utils/stack';

t.test('two indexers on one queue, one killed with SIGKILL mid-stream: every event exactly once', async (t) => {
  const env = pipelineEnv(t);
  const collector = await startCollector(t, env);
  const a = await startIndexer(t, env);
  const b = await startIndexer(t, env);
  const N = 20_000;
  const work = openWorkload(t, env.workDir, N, 4000);
  const indexed = async (s: typeof a): Promise<number> => (await s.metrics()).get('filewarden_indexer_events_indexed_total') ?? 0;
  t.ok(await waitFor(async () => (await indexed(a)) >= 1000 && (await indexed(b)) >= 1000, 30_000, 50), 'both indexers take batches from the queue');
  a.proc.kill('SIGKILL');
  t.equal(await a.exited, 'SIGKILL', 'one indexer died by SIGKILL');
  t.equal(await work.done, N, 'the workload made every open');
  await stopService(t, collector, 'the collector');
  // The batches the dead one held are stalled: the survivor takes them once BullMQ sees the stall.
  await expectExactlyOnce(t, env, collector, b, N, 120_000);
  await stopService(t, b, 'the surviving indexer');
});

t.test('three collectors with their own host identity and cgroup, one Redis, two indexers: exact counts and a clean verify per host', async (t) => {
  const cgroup2 = fs.readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')).find((f) => f[2] === 'cgroup2')?.[1];
  if (!cgroup2) throw new Error('no cgroup2 mount on this host: the per-host workloads need one');
  const env = pipelineEnv(t);
  const start = new Date(Date.now() - 1000).toISOString();
  const trusted = tempDir(t, 'fw-trusted-');
  const counts = [3000, 2000, 1000];
  const hosts = counts.map((n, i) => {
    const name = uniqueName(`fwhost${i}`);
    const stateDir = tempDir(t, `fw-host${i}-`);
    const dir = path.join(env.workDir, `host${i}`);
    fs.mkdirSync(dir);
    const cgroup = fs.mkdtempSync(path.join(cgroup2, 'fw-test-host-'));
    t.teardown(() => fs.rmdirSync(cgroup));
    // Enrolled as `up` enrolls a host: its collector's key under its host name.
    const key = loadOrCreateHostKey(path.join(stateDir, 'collector'));
    fs.writeFileSync(path.join(trusted, `${name}.pub`), key.publicKey.export({ type: 'spki', format: 'pem' }).toString(), { mode: 0o644 });
    return { name, stateDir, dir, cgroup, n };
  });
  const collectors = [];
  for (const h of hosts) collectors.push(await startCollector(t, env, ['--host-name', h.name, '--include-cgroup', h.cgroup], h.stateDir));
  const indexers = [await startIndexer(t, env, { enroll: false, extra: ['--trusted-keys', trusted] }), await startIndexer(t, env, { enroll: false, extra: ['--trusted-keys', trusted] })];
  // Every workload writes under the shared work directory, which every collector keeps: only the
  // cgroup filter tells one host's opens from another's.
  const done = await Promise.all(hosts.map((h) => openWorkload(t, h.dir, h.n, 2000, h.cgroup).done));
  t.strictSame(done, counts, 'each workload made its opens in its own cgroup');
  for (const [i, c] of collectors.entries()) await stopService(t, c, `collector ${i}`);
  const total = counts.reduce((a, b) => a + b, 0);
  t.ok(await waitFor(async () => (await readIndexed(env)).length >= total, 90_000), 'every event reaches Elasticsearch');
  for (const [i, x] of indexers.entries()) t.ok(await waitQueueEmpty(x, 60_000), `the queue is empty (indexer ${i})`);

  const docs = await readIndexed(env);
  t.equal(new Set(docs.map((d) => d.id)).size, docs.length, 'no duplicate _id');
  for (const h of hosts) {
    const mine = docs.filter((d) => d.path.startsWith(`${h.dir}/`));
    t.equal(new Set(mine.map((d) => d.path)).size, h.n, `${h.name}: each of its ${h.n} files once`);
    const r = await env.es.count({ index: `${env.indexPrefix}-*`, query: { term: { 'host.name': h.name } } });
    t.equal(r.count, h.n, `${h.name}: exactly its ${h.n} events carry its host name`);
    const streams = new Set(mine.map((d) => d.stream));
    t.equal(streams.size, 1, `${h.name}: one sequence stream`);
    const seqs = mine.map((d) => d.seq).sort((x, y) => x - y);
    t.strictSame([seqs[0], seqs[seqs.length - 1], new Set(seqs).size], [1, h.n, h.n], `${h.name}: seq 1..${h.n}, each once`);
    const v = await cli(['verify', '--from', start, '--hosts', h.name, '--trusted-keys', trusted, ...indexNames(env), '--alert-index', env.alertIndex, '--audit-index', env.auditIndex], { FILEWARDEN_ELASTICSEARCH_URL: env.esUrl });
    t.equal(v.code, 0, `${h.name}: verify is clean (${v.stdout.trim().split('\n').pop()})`);
  }
  t.equal(docs.length, total, `no event from outside the three cgroups: ${docs.length} documents`);
  for (const [i, x] of indexers.entries()) await stopService(t, x, `indexer ${i}`);
});
