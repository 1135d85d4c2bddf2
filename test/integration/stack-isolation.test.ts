// The embedded stack is closed to other local users: as `nobody`, Redis and Elasticsearch cannot be
// reached at all (the nftables owner match), a connection without the ACL user's password gets
// NOAUTH for every command, and the password lives only in a root-owned 0600 file.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import t, { type Test } from 'tap';
import Redis from 'ioredis';
import { defaultStateDir, readState, stackPaths } from '../../stack/src';
import { endpoints, esClient, redisConnection, uniqueName } from '../utils/stack';

interface Run {
  code: number | null;
  out: string;
}

/** Runs a command as nobody:nogroup with no supplementary groups (a shell tool, not node: see ecs-documents). */
function asNobody(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', cmd, ...args], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

/** Sends raw RESP inline commands on one fresh socket and collects each reply's first line. */
function rawRedis(port: number, lines: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.write(lines.map((l) => `${l}\r\n`).join('')));
    let buf = '';
    sock.setTimeout(5000, () => sock.destroy(new Error('no reply in 5 s')));
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const replies = buf.split('\r\n').filter(Boolean);
      if (replies.length >= lines.length) {
        sock.destroy();
        resolve(replies.slice(0, lines.length));
      }
    });
    sock.on('error', reject);
  });
}

const redisUrl = new URL(endpoints().redisUrl);
const redisPort = Number(redisUrl.port);
const esPort = Number(new URL(endpoints().elasticsearchUrl).port);

/** root's own, authenticated client: the ground truth for what the others could not do. */
function rootRedis(t: Test): Redis {
  const r = new Redis(redisConnection());
  t.teardown(() => r.quit());
  return r;
}

t.test('the Redis password is in a root-owned 0600 file in a 0700 directory, and stack.json holds no password', async (t) => {
  const p = stackPaths(defaultStateDir());
  const state = readState(p.stateFile);
  t.equal(state.redis?.user, 'filewarden');
  t.equal(state.redis?.passwordFile, p.redisPasswordFile);
  const st = fs.statSync(p.redisPasswordFile);
  t.equal(st.mode & 0o777, 0o600, 'password file mode 0600');
  t.equal(st.uid, 0, 'owned by root');
  t.equal(fs.statSync(p.redisDir).mode & 0o777, 0o700, 'Redis directory mode 0700');
  const password = decodeURIComponent(redisUrl.password);
  t.ok(password.length >= 64 && /^[0-9a-f]+$/.test(password), 'at least 32 random bytes, hex');
  t.equal(fs.readFileSync(p.redisPasswordFile, 'utf8').trim(), password, 'the URL carries the password from that file');
  t.notMatch(fs.readFileSync(p.stateFile, 'utf8'), password, 'stack.json does not contain it');
  t.notMatch(fs.readFileSync(p.redisConf, 'utf8'), password, 'nor does redis.conf');
  t.equal(fs.statSync(p.stateFile).mode & 0o777, 0o600, 'stack.json mode 0600');
});

t.test("as nobody, the stack's files on disk cannot be read: Redis's AOF, Elasticsearch's data and logs", async (t) => {
  const p = stackPaths(defaultStateDir());
  for (const dir of [p.redisDir, p.esData, p.esLogs]) {
    const r = await asNobody('ls', [dir]);
    t.not(r.code, 0, `nobody: ls ${dir}: ${r.out.trim()}`);
    t.match(r.out, 'Permission denied');
  }
});

t.test('a Redis connection without credentials, or with a wrong password, gets NOAUTH for every command and changes nothing', async (t) => {
  const key = uniqueName('fw-isolation');
  const root = rootRedis(t);
  t.teardown(() => root.del(key, `${key}-list`, `${key}-stream`).then(() => undefined));
  await root.set(key, 'evidence');

  const anon = await rawRedis(redisPort, ['PING', `LPUSH ${key}-list forged`, `XADD ${key}-stream * forged 1`, `DEL ${key}`, 'FLUSHALL']);
  for (const reply of anon) t.match(reply, /^-NOAUTH/, `anonymous: ${reply}`);

  const wrong = await rawRedis(redisPort, ['AUTH filewarden not-the-password', `LPUSH ${key}-list forged`, `DEL ${key}`]);
  t.match(wrong[0], /^-WRONGPASS/, 'a wrong password is refused');
  t.match(wrong[1], /^-NOAUTH/);
  t.match(wrong[2], /^-NOAUTH/);
  const asDefault = await rawRedis(redisPort, [`AUTH ${decodeURIComponent(redisUrl.password)}`, 'PING']);
  t.match(asDefault[0], /^-WRONGPASS/, 'the right password for the (disabled) default user is refused too');

  t.equal(await root.get(key), 'evidence', 'the key root wrote is still there');
  t.equal(await root.exists(`${key}-list`, `${key}-stream`), 0, 'no forged list or stream was created');
  t.equal(await root.ping(), 'PONG', 'root with the credentials is served');
});

t.test('as nobody, Redis cannot even be connected to, with or without the password', async (t) => {
  const key = uniqueName('fw-isolation');
  const root = rootRedis(t);
  t.teardown(() => root.del(key, `${key}-list`).then(() => undefined));
  await root.set(key, 'evidence');
  const base = ['-h', '127.0.0.1', '-p', String(redisPort)];
  for (const args of [['PING'], ['LPUSH', `${key}-list`, 'forged'], ['XADD', `${key}-list`, '*', 'forged', '1'], ['DEL', key]]) {
    const r = await asNobody('redis-cli', [...base, ...args]);
    t.match(r.out, /Connection refused|Connection reset/, `nobody: redis-cli ${args[0]}: ${r.out.trim()}`);
  }
  // Even a local user who somehow learnt the password is kept out by the firewall.
  const withPw = await asNobody('redis-cli', [...base, '--user', 'filewarden', 'PING'], { REDISCLI_AUTH: decodeURIComponent(redisUrl.password) });
  t.notMatch(withPw.out, 'PONG', `nobody with the password: ${withPw.out.trim()}`);
  t.match(withPw.out, /Connection refused|Connection reset/);
  t.equal(await root.get(key), 'evidence', 'the key is still there');
  t.equal(await root.exists(`${key}-list`), 0, 'nothing was pushed');
});

t.test('as nobody, Elasticsearch cannot be reached: GET /, DELETE of an index and PUT all fail, and the index survives', async (t) => {
  const es = esClient();
  t.teardown(() => es.close());
  const index = uniqueName('fw-isolation');
  const forged = `${index}-forged`;
  await es.indices.create({ index });
  await es.index({ index, id: '1', document: { evidence: true }, refresh: true });
  t.teardown(() => es.indices.delete({ index: `${index},${forged}`, ignore_unavailable: true }).then(() => undefined));
  const base = `http://127.0.0.1:${esPort}`;
  for (const [method, url] of [
    ['GET', `${base}/`],
    ['DELETE', `${base}/${index}`],
    ['PUT', `${base}/${forged}`],
    ['POST', `${base}/${index}/_delete_by_query?q=*`],
  ]) {
    const r = await asNobody('curl', ['-sS', '-m', '5', '-X', method, url]);
    t.equal(r.code, 7, `nobody: curl -X ${method} ${url} cannot connect (${r.out.trim()})`);
  }
  t.equal(await es.indices.exists({ index }), true, 'the index root created still exists');
  t.equal((await es.count({ index })).count, 1, 'with its document');
  t.equal(await es.indices.exists({ index: forged }), false, 'no index was created by nobody');
  t.equal((await es.info()).version.number.length > 0, true, 'root is served');
});

t.test('stack up installed the firewall table for exactly the stack ports', async (t) => {
  const state = readState(stackPaths(defaultStateDir()).stateFile);
  const f = state.firewall;
  t.ok(f, 'stack.json records the table');
  const ports = [state.redis!.port, state.elasticsearch!.httpPort, state.elasticsearch!.transportPort].sort((a, b) => a - b);
  t.strictSame(f?.ports, ports);
  t.ok(f?.uids.includes(0), 'root is allowed');
  if (state.elasticsearch?.uid !== undefined) t.ok(f?.uids.includes(state.elasticsearch.uid), 'the Elasticsearch user is allowed');
  t.notOk(f?.uids.includes(65534), 'nobody is not');
  const listed = await new Promise<string>((resolve, reject) => {
    const c = spawn('nft', ['list', 'table', 'inet', f!.table], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.on('error', reject);
    c.on('close', () => resolve(out));
  });
  t.match(listed, `elements = { ${ports.join(', ')} }`);
  t.match(listed, 'meta skuid != @uids reject');
});
