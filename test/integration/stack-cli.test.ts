// `filewarden stack` as a user runs it: status shows the real versions, a second stack moves off
// taken ports, its Redis keeps queued jobs (and its password) across a restart, and down stops only
// its own pids and removes only its own firewall table; without nft, stack up refuses to start.
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { Queue, Worker } from 'bullmq';
import { defaultStateDir, ELASTICSEARCH_VERSION, firewallTable, readState, stackPaths, type ServiceStatus } from '../../stack/src';
import { cli, endpoints, esClient, hasExited, redisConnection, stackRedisUrl, uniqueName } from '../utils/stack';

/** Whether nftables has this inet table loaded now. */
const nftHas = (table: string): boolean => spawnSync('nft', ['list', 'table', 'inet', table], { stdio: 'ignore' }).status === 0;

t.test('stack status reports the real Elasticsearch and Redis version strings', async (t) => {
  const r = await cli(['stack', 'status', '--json']);
  t.equal(r.code, 0, r.stderr);
  const statuses = JSON.parse(r.stdout) as ServiceStatus[];
  const es = statuses.find((s) => s.service === 'elasticsearch');
  const redis = statuses.find((s) => s.service === 'redis');

  const client = esClient();
  t.teardown(() => client.close());
  const served = (await client.info()).version.number;
  t.equal(es?.version, served, 'status shows what the running node serves');
  t.equal(served, ELASTICSEARCH_VERSION);
  t.ok(es?.running && es.reachable);
  t.match(es?.detail, /health=green/);

  t.ok(redis?.running && redis.reachable);
  t.match(redis?.version, /^\d+\.\d+\.\d+$/);
  t.match(redis?.detail, 'appendonly=yes maxmemory-policy=noeviction');
  t.same(redis?.warnings, []);
  t.match(redis?.url, /^redis:\/\/filewarden:\*\*\*@127\.0\.0\.1:\d+$/, 'the Redis URL is shown with the password masked');
  t.match(es?.detail, /firewall=on \(nft table inet filewarden_[0-9a-f]{12}, ports [\d,]+ only for uids 0[\d,]*\)/);
  t.same(es?.warnings, []);

  const text = await cli(['stack', 'status']);
  t.notMatch(r.stdout + text.stdout, decodeURIComponent(new URL(endpoints().redisUrl).password), 'the password is never printed');
  t.match(text.stdout, new RegExp(`elasticsearch +running .*version ${ELASTICSEARCH_VERSION.replaceAll('.', '\\.')}`));
  t.match(text.stdout, /redis +running .*version \d+\.\d+\.\d+/);
  console.log(`# stack under test:\n${text.stdout.replace(/^/gm, '#   ')}`);
});

t.test('a second stack moves off a taken port, keeps queued jobs across a Redis restart, and down stops only its own pid', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-stack-'));
  const env = { FILEWARDEN_STATE_DIR: dir };
  t.teardown(async () => {
    await cli(['stack', 'down'], env);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const mainRedis = new URL(endpoints().redisUrl);

  const up = await cli(['stack', 'up', '--services', 'redis'], env);
  t.equal(up.code, 0, up.stderr);
  const first = readState(stackPaths(dir).stateFile).redis!;
  t.not(first.port, Number(mainRedis.port), 'never shares the main stack port');
  const table = firewallTable(dir);
  t.strictSame(readState(stackPaths(dir).stateFile).firewall?.ports, [first.port], 'its own firewall table closes its port');
  t.equal(nftHas(table), true, `table inet ${table} is loaded`);
  if (Number(mainRedis.port) === 6380) t.match(up.stdout, 'redis: port 6380 is taken; using');

  // Queue jobs, stop Redis by pid, start it again: the AOF brings every job back.
  const name = uniqueName('fw-test-persist');
  const connection = redisConnection(stackRedisUrl(dir));
  t.equal(connection.port, first.port);
  const queue = new Queue(name, { connection });
  for (let i = 0; i < 50; i++) await queue.add('batch', { i }, { jobId: `h:b:${i}` });
  await queue.close();

  const down = await cli(['stack', 'down', '--services', 'redis'], env);
  t.equal(down.code, 0, down.stderr);
  t.match(down.stdout, `redis: pid ${first.pid} terminated`);
  t.ok(hasExited(first.pid), 'the second stack redis has exited');
  t.match(down.stdout, `firewall: table inet ${table} removed`);
  t.equal(nftHas(table), false, 'its table is gone');
  t.equal(readState(stackPaths(dir).stateFile).firewall, undefined);
  const mainTable = readState(stackPaths(defaultStateDir()).stateFile).firewall?.table;
  if (mainTable) t.equal(nftHas(mainTable), true, "the main stack's table is untouched");

  const main = await cli(['stack', 'status', '--json']);
  t.equal(main.code, 0, 'the main stack is untouched by the other stack down');

  const again = await cli(['stack', 'up', '--services', 'redis'], env);
  t.equal(again.code, 0, again.stderr);
  const second = readState(stackPaths(dir).stateFile).redis!;
  t.not(second.pid, first.pid, 'a new redis-server process');

  t.equal(redisConnection(stackRedisUrl(dir)).password, connection.password, 'the restarted Redis keeps its password');
  const reopened = new Queue(name, { connection: redisConnection(stackRedisUrl(dir)) });
  t.equal(await reopened.getWaitingCount(), 50, 'all 50 queued jobs survived the restart');
  const got: number[] = [];
  const worker = new Worker<{ i: number }>(name, async (job) => void got.push(job.data.i), { connection: redisConnection(stackRedisUrl(dir)) });
  while (got.length < 50) await new Promise((r) => setTimeout(r, 50));
  await worker.close();
  await reopened.close();
  t.same(got.sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i), 'and each one is processed once');
});

t.test('without nft, stack up fails with one clear line and a hint, and starts nothing', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-stack-'));
  t.teardown(async () => {
    await cli(['stack', 'down'], { FILEWARDEN_STATE_DIR: dir });
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const port = String(17000 + Math.floor(Math.random() * 1000));
  // nft lives in /usr/sbin, redis-server in /usr/bin: this PATH is a host without nftables.
  const r = await cli(['stack', 'up', '--services', 'redis', '--redis-port', port], { FILEWARDEN_STATE_DIR: dir, PATH: '/usr/bin:/bin' });
  t.equal(r.code, 1);
  t.match(r.stderr, /^filewarden: cannot run nft to close ports \d+ to other local users: .*ENOENT.* \[FW_STACK_FIREWALL\]$/m);
  t.match(r.stderr, /hint: .*nf_tables.*apt-get install nftables/);
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
  t.equal(readState(stackPaths(dir).stateFile).redis, undefined, 'no Redis recorded');
  const refused = await new Promise<boolean>((resolve) => {
    const s = net.connect(Number(port), '127.0.0.1', () => (s.destroy(), resolve(false)));
    s.on('error', () => resolve(true));
  });
  t.ok(refused, 'and none listening');
});

t.test('an explicitly requested port that is taken is refused with a message naming it', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-stack-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const taken = new URL(endpoints().redisUrl).port;
  const r = await cli(['stack', 'up', '--services', 'redis', '--redis-port', taken], { FILEWARDEN_STATE_DIR: dir });
  t.equal(r.code, 1);
  t.match(r.stderr, `redis: port ${taken} on 127.0.0.1 is taken`);
  t.match(r.stderr, 'FW_STACK_PORT_TAKEN');
  t.match(r.stderr, 'hint:');
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

t.test('bad option values are refused before anything starts', async (t) => {
  for (const args of [
    ['stack', 'up', '--es-port', '70000'],
    ['stack', 'up', '--services', 'postgres'],
    ['stack', 'up', '--es-heap', 'lots'],
  ]) {
    const r = await cli(args);
    t.equal(r.code, 1, args.join(' '));
    t.match(r.stderr, /error: option .* is invalid/);
  }
});

t.test('every command has --help', async (t) => {
  for (const args of [[], ['stack'], ['stack', 'up'], ['stack', 'status'], ['stack', 'down'], ['doctor'], ['up']]) {
    const r = await cli([...args, '--help']);
    t.equal(r.code, 0, `${args.join(' ')} --help`);
    t.match(r.stdout, /^Usage: filewarden/);
  }
});
