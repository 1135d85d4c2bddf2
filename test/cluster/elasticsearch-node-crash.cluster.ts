// Fault 1 (run by scripts/test.sh against its 3-node cluster, alone): under load, one of the three
// Elasticsearch nodes is killed with SIGKILL; it holds a copy of the events index. Every event
// reaches Elasticsearch exactly once, `gaps` is clean, and `stack up` brings the node back to a
// green cluster.
import t from 'tap';
import { ownStateDir, readState, stackPaths, type ElasticsearchNodeState } from '../../stack/src';
import { countIndexed, expectExactlyOnce, openWorkload, pipelineEnv, startCollector, startIndexer, stopService, waitFor } from '../utils/pipeline';
import { cli, esClient, expectedEsVersion, hasExited } from '../utils/stack';

const stateDir = (): string => ownStateDir('the cluster tests', 'run them with npm test');

function clusterNodes(): ElasticsearchNodeState[] {
  const es = readState(stackPaths(stateDir()).stateFile).elasticsearch;
  if (!es?.nodes || es.nodes.length !== 3) {
    throw new Error(`the cluster tests need the 3-node stack that scripts/test.sh starts (stack up --es-nodes 3); ${stateDir()} has ${es?.nodes?.length ?? (es ? 1 : 0)} node(s)`);
  }
  return es.nodes;
}

t.test('a data node killed with SIGKILL mid-stream loses and duplicates nothing, and the cluster is green again once it restarts', async (t) => {
  const nodes = clusterNodes();
  const client = esClient();
  t.teardown(() => client.close());
  t.equal((await client.info()).version.number, expectedEsVersion(), `the cluster runs ${expectedEsVersion()}`);
  t.equal((await client.cluster.health({ wait_for_status: 'green', timeout: '60s' })).number_of_nodes, 3, 'three nodes, green, before the fault');
  // Whatever happens below, the stack is left with all three nodes running.
  t.teardown(async () => {
    if (clusterNodes().some((n) => hasExited(n.pid))) await cli(['stack', 'up', '--services', 'elasticsearch']);
  });

  const env = pipelineEnv(t);
  const collector = await startCollector(t, env);
  const indexer = await startIndexer(t, env);
  const N = 30_000;
  const work = openWorkload(t, env.workDir, N, 3000);
  t.ok(await waitFor(async () => (await countIndexed(env)) >= 3000, 60_000, 100), 'the indexer has written some events');

  // The victim holds a copy of the events index and is not node 0, the node the clients talk to:
  // the primary's node when it is not node 0, else the replica's.
  const shards = await client.cat.shards({ index: `${env.indexPrefix}-*`, format: 'json', h: 'index,prirep,state,node' });
  t.strictSame(
    shards.map((s) => s.prirep).sort(),
    ['p', 'r'],
    `the events index has one primary and one replica (auto_expand_replicas 0-1 on ${nodes.length} nodes): ${JSON.stringify(shards)}`,
  );
  const holders = shards.filter((s) => s.state === 'STARTED').sort((a, b) => (a.prirep === 'p' ? -1 : 1) - (b.prirep === 'p' ? -1 : 1));
  const victimName = holders.map((s) => s.node).find((n) => n !== nodes[0]!.name);
  const victim = nodes.find((n) => n.name === victimName);
  if (!victim) throw new Error(`no node but node 0 holds a copy of the events index: ${JSON.stringify(shards)}`);
  const role = holders.find((s) => s.node === victim.name)?.prirep === 'p' ? 'primary' : 'replica';
  const before = await countIndexed(env);
  process.kill(victim.pid, 'SIGKILL');
  t.ok(await waitFor(async () => hasExited(victim.pid), 10_000, 50), `${victim.name} (pid ${victim.pid}, holding the ${role}) is gone`);
  t.ok(before < N, `killed mid-stream: ${before} of ${N} indexed at the kill`);
  const during = await client.cluster.health({ wait_for_nodes: '2', timeout: '60s' });
  t.equal(during.number_of_nodes, 2, `the cluster sees two nodes (health ${during.status})`);

  t.equal(await work.done, N, 'the workload made every open');
  await stopService(t, collector, 'the collector');
  await expectExactlyOnce(t, env, collector, indexer, N, 180_000);
  const after = await client.cat.shards({ index: `${env.indexPrefix}-*`, format: 'json', h: 'prirep,state,node' });
  t.ok(
    after.some((s) => s.prirep === 'p' && s.state === 'STARTED' && s.node !== victim.name),
    `the primary is on a live node: ${JSON.stringify(after)}`,
  );
  await stopService(t, indexer, 'the indexer');

  const up = await cli(['stack', 'up', '--services', 'elasticsearch']);
  t.equal(up.code, 0, `stack up exits 0 ${up.stderr}`);
  t.match(up.stdout + up.stderr, new RegExp(`${victim.name} \\(pid ${victim.pid}\\) is not running; starting it again`), 'stack up names the dead node');
  t.match(up.stdout + up.stderr, /green with 3 nodes/, 'and waits for green');
  const restarted = clusterNodes().find((n) => n.name === victim.name)!;
  t.not(restarted.pid, victim.pid, `${victim.name} runs again as pid ${restarted.pid}`);
  const health = await client.cluster.health({ wait_for_status: 'green', wait_for_nodes: '3', timeout: '120s' });
  t.strictSame([health.status, health.number_of_nodes, health.unassigned_shards], ['green', 3, 0], 'green with three nodes and no unassigned shard');
});
