// The isolation guard (test/isolation) can fail: one document, one deletion or one Redis key is
// enough for its record of a stack to differ. And it removes only a directory it made in this run. Checked here on a unique index and key of the tests'
// own stack, since other tests write to that stack at the same time.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import Redis from 'ioredis';
import { defaultStateDir } from '../../stack/src';
import { esClient, redisConnection, uniqueName } from '../utils/stack';
import { GUARD_MARKER, makeMarkedStateDir, releaseUserStack, stackContents } from '../utils/user-stack';

t.test('the guard sees a single document written, deleted, and a single Redis key', async (t) => {
  const es = esClient();
  const redis = new Redis(redisConnection());
  const index = uniqueName('fw-guard');
  const key = `${index}-key`;
  t.teardown(async () => {
    await es.indices.delete({ index, ignore_unavailable: true });
    await redis.del(key);
    redis.disconnect();
  });
  await es.indices.create({ index });
  await es.index({ index, id: 'a', document: { n: 1 }, refresh: true });
  const before = await stackContents(defaultStateDir());
  t.strictSame(before.indices[index], { docs: 1, deleted: 0, indexed: 1, deletes: 0 });
  t.equal(before.redisKeys[key], undefined);

  await es.index({ index, id: 'b', document: { n: 2 } }); // not refreshed: the guard refreshes
  await redis.set(key, 'x');
  const written = await stackContents(defaultStateDir());
  t.strictSame(written.indices[index], { docs: 2, deleted: 0, indexed: 2, deletes: 0 }, 'an unrefreshed write is counted');
  t.match(written.redisKeys[key], /^string:[0-9a-f]{64}$/, 'a new key is listed');

  await es.index({ index, id: 'b', document: { n: 3 } });
  await es.delete({ index, id: 'b' });
  await redis.set(key, 'y');
  const undone = await stackContents(defaultStateDir());
  t.strictSame(undone.indices[index], { docs: 1, deleted: undone.indices[index].deleted, indexed: 3, deletes: 1 }, 'a write undone by a delete still moves the counters');
  t.not(undone.redisKeys[key], written.redisKeys[key], 'a changed value changes the digest');
  await redis.pexpire(key, 60_000);
  const volatile = await stackContents(defaultStateDir());
  t.equal(volatile.redisKeys[key], undefined);
  t.ok(volatile.redisVolatile.includes(key), 'an expiring key is listed by name');
});

t.test('the guard removes only a state directory holding its own run marker', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-guard-release-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'data'), 'the user\'s');
  await t.rejects(releaseUserStack({ runId: 'a1', stateDir: dir, created: true, started: false }), /not removing .* no marker of this run/, 'no marker: refused');
  fs.writeFileSync(path.join(dir, GUARD_MARKER), 'another-run');
  await t.rejects(releaseUserStack({ runId: 'a1', stateDir: dir, created: true, started: false }), /no marker of this run/, "another run's marker: refused");
  t.ok(fs.existsSync(path.join(dir, 'data')), 'and nothing was removed');
  const made = path.join(dir, 'made');
  makeMarkedStateDir(made, 'b2');
  await releaseUserStack({ runId: 'b2', stateDir: made, created: true, started: false });
  t.notOk(fs.existsSync(made), "its own run's directory is removed");
  t.throws(() => makeMarkedStateDir(dir, 'c3'), { code: 'EEXIST' }, 'and it never adopts a directory that exists');
});
