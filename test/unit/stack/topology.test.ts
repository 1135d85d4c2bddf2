// The stack's topologies on paper: Sentinel URLs, the cluster's and Sentinels' configuration files,
// the versions `stack up --es-version` accepts, and the data-version guard. The processes
// themselves are tested by the second pass of scripts/test.sh (test/cluster).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { checkDataVersion, elasticsearchYml } from '../../../stack/src/elasticsearch';
import { StackError } from '../../../stack/src/errors';
import { ELASTICSEARCH_VERSION, ELASTICSEARCH_VERSIONS, esNodePaths, stackPaths } from '../../../stack/src/paths';
import { redactUrl } from '../../../stack/src/redact';
import { masterMember, redisConfig } from '../../../stack/src/redis';
import { parseSentinelUrl, sentinelOptions, sentinelUrl } from '../../../stack/src/redis-connect';
import { sentinelConfig, sentinelMember } from '../../../stack/src/redis-sentinel';
import { elasticsearchVersion } from '../../../stack/src/stack';
import { redisUrl } from '../../../stack/src/state';

t.test('a Sentinel URL names every Sentinel, the master and the credentials, and round-trips', async (t) => {
  const url = sentinelUrl('127.0.0.1', [26379, 26380, 26381], 'filewarden', 'p@ss/word');
  t.equal(url, 'redis-sentinel://filewarden:p%40ss%2Fword@127.0.0.1:26379/filewarden?sentinels=127.0.0.1:26380,127.0.0.1:26381');
  t.equal(redactUrl(url), 'redis-sentinel://filewarden:***@127.0.0.1:26379/filewarden?sentinels=127.0.0.1:26380,127.0.0.1:26381', 'the password is masked');
  const target = parseSentinelUrl(url);
  t.strictSame(target, {
    sentinels: [
      { host: '127.0.0.1', port: 26379 },
      { host: '127.0.0.1', port: 26380 },
      { host: '127.0.0.1', port: 26381 },
    ],
    name: 'filewarden',
    username: 'filewarden',
    password: 'p@ss/word',
    db: 0,
  });
  const o = sentinelOptions(target);
  t.strictSame([o.name, o.username, o.password, o.sentinelUsername, o.sentinelPassword], ['filewarden', 'filewarden', 'p@ss/word', 'filewarden', 'p@ss/word'], 'the same user for Sentinels and servers');
  t.equal(parseSentinelUrl('redis-sentinel://[::1]:26379/m?db=3&sentinels=[::1]:26380').sentinels[1]?.host, '::1', 'IPv6 hosts');
  t.equal(parseSentinelUrl('redis-sentinel://h:1/m?db=3').db, 3);
});

t.test('a bad Sentinel URL is refused with the reason, never half-used', async (t) => {
  const bad: [string, RegExp][] = [
    ['redis-sentinel://h/m', /needs a host and a port/],
    ['redis-sentinel://h:26379', /path must be the master name/],
    ['redis-sentinel://h:26379/', /path must be the master name/],
    ['redis-sentinel://h:26379/a/b', /path must be the master name/],
    ['redis-sentinel://h:26379/m?sentinels=h2', /"h2" is not host:port/],
    ['redis-sentinel://h:26379/m?sentinels=h2:99999', /"h2:99999" is not host:port/],
    ['redis-sentinel://h:26379/m?db=x', /db must be a number/],
    ['redis-sentinel://h:26379/m?password=x', /unknown parameter "password"/],
    ['redis://h:6379/m', /scheme is redis:/],
  ];
  for (const [url, why] of bad) {
    t.throws(() => parseSentinelUrl(url), { code: 'FW_STACK_REDIS_URL', message: why }, url);
  }
});

t.test("a Sentinel stack's clients get its redis-sentinel:// URL with the password from its file", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-topology-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'password'), 'secret\n', { mode: 0o600 });
  const base = { pid: 1, port: 6380, host: '127.0.0.1', startedAt: '', user: 'filewarden', passwordFile: path.join(dir, 'password') };
  t.equal(redisUrl(base), 'redis://filewarden:secret@127.0.0.1:6380', 'without Sentinels: the server');
  t.equal(
    redisUrl({ ...base, replica: { pid: 2, port: 6381 }, sentinels: [6382, 6383, 6384].map((port) => ({ pid: 3, port })) }),
    'redis-sentinel://filewarden:secret@127.0.0.1:6382/filewarden?sentinels=127.0.0.1:6383,127.0.0.1:6384',
  );
});

t.test('the replica and Sentinel configuration: replication with the stack user, no anonymous access, quorum 2', async (t) => {
  const p = stackPaths('/var/lib/fw-x');
  const replica = redisConfig({ ...masterMember(p), dir: '/r' }, 6381, 'pw', { replicaOf: 6380 });
  t.match(replica, /^replicaof 127\.0\.0\.1 6380$/m);
  t.match(replica, /^masteruser filewarden$/m);
  t.match(replica, /^user default off /m);
  t.match(replica, /^appendonly yes$/m, 'the replica keeps an AOF too: it may become the master');
  const master = redisConfig(masterMember(p), 6380, 'pw', {});
  t.notMatch(master, /replicaof/, 'the master has no replicaof');
  t.match(master, /^masterauth pw$/m, 'but can log in to a new master: Sentinel may demote it');
  const lone = redisConfig(masterMember(p), 6380, 'pw');
  t.notMatch(lone, /masterauth|replicaof|\bpw\b/, 'a lone server holds only the digest');
  const m = sentinelMember(p, 1);
  t.equal(m.dir, '/var/lib/fw-x/redis/sentinel-1');
  const conf = sentinelConfig(m, 6383, 6380, 'pw');
  t.match(conf, /^sentinel monitor filewarden 127\.0\.0\.1 6380 2$/m);
  t.match(conf, /^user default off /m, 'the Sentinel refuses anonymous clients');
  t.match(conf, /^user filewarden on #[0-9a-f]{64} /m, "its own ACL user holds only the password's digest");
  t.match(conf, /^sentinel auth-user filewarden filewarden$/m);
});

t.test('a cluster node knows its peers; the first start alone names the voting nodes', async (t) => {
  const p = stackPaths('/var/lib/fw-x', '9.5.4');
  t.equal(p.esHome, '/var/lib/fw-x/elasticsearch/dist/elasticsearch-9.5.4', 'each version unpacks beside the others');
  const single = esNodePaths(p, 0, 1);
  t.strictSame([single.data, single.name], [p.esData, 'filewarden-local-0'], 'a one-node stack keeps its layout');
  const n2 = esNodePaths(p, 2, 3);
  t.strictSame([n2.data, n2.name, n2.pid], ['/var/lib/fw-x/elasticsearch/node-2/data', 'filewarden-local-2', '/var/lib/fw-x/elasticsearch/node-2/run/elasticsearch.pid']);
  const first = elasticsearchYml(n2, 9202, 9302, { seedTransportPorts: [9300, 9301, 9302], initialMasterNodes: ['filewarden-local-0', 'filewarden-local-1', 'filewarden-local-2'] });
  t.match(first, /^discovery\.seed_hosts: \["127\.0\.0\.1:9300", "127\.0\.0\.1:9301", "127\.0\.0\.1:9302"\]$/m);
  t.match(first, /^cluster\.initial_master_nodes: \["filewarden-local-0", "filewarden-local-1", "filewarden-local-2"\]$/m);
  t.notMatch(first, /single-node/);
  const later = elasticsearchYml(n2, 9202, 9302, { seedTransportPorts: [9300, 9301, 9302] });
  t.notMatch(later, /initial_master_nodes/, 'a later start must not name them');
  t.match(elasticsearchYml(single, 9200, 9300), /^discovery\.type: single-node$/m);
});

t.test('the versions: each one pinned by SHA-512, and an unknown one refused', async (t) => {
  t.ok(ELASTICSEARCH_VERSIONS[ELASTICSEARCH_VERSION], 'the default is one of them');
  t.strictSame(Object.keys(ELASTICSEARCH_VERSIONS).map((v) => v.split('.')[0]), ['8', '9'], 'an 8.x and a 9.x');
  for (const v of Object.values(ELASTICSEARCH_VERSIONS)) t.match(v.sha512, /^[0-9a-f]{128}$/, `${v.version}: a SHA-512`);
  t.equal(elasticsearchVersion('9.5.4').javaMajor, 21, '9.x needs Java 21');
  t.throws(() => elasticsearchVersion('9.9.9'), { code: 'FW_STACK_ES_VERSION', message: /9\.9\.9 is not supported/ });
});

t.test('data written by a newer Elasticsearch is never handed to an older one', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-topology-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const np = esNodePaths(stackPaths(dir), 0, 1);
  const logs: string[] = [];
  checkDataVersion(np, '8.19.21', (l) => logs.push(l));
  t.strictSame(logs, [], 'no data yet: nothing to say');
  fs.mkdirSync(path.dirname(np.data), { recursive: true });
  fs.writeFileSync(`${np.data}.version`, '9.5.4');
  const err = t.throws(() => checkDataVersion(np, '8.19.21', () => undefined)) as StackError;
  t.match(err, { code: 'FW_STACK_ES_VERSION', message: /written by Elasticsearch 9\.5\.4, which 8\.19\.21 cannot read/, hint: /--es-version 9\.5\.4/ });
  fs.writeFileSync(`${np.data}.version`, '8.19.21');
  checkDataVersion(np, '9.5.4', (l) => logs.push(l));
  t.match(logs, [/upgrading the data .* from 8\.19\.21 to 9\.5\.4; 8\.19\.21 can no longer read it/], 'an upgrade is said out loud');
});
