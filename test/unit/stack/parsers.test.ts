// The stack's judgements from raw server and tool output: Redis durability from INFO, Java versions.
import t from 'tap';
import { judgeDurability, parseInfo } from '../../../stack/src/redis';
import { parseJavaMajor } from '../../../stack/src/java';

const info = (extra: string): Map<string, string> =>
  parseInfo(`# Server\r\nredis_version:7.0.15\r\n# Persistence\r\nrdb_changes_since_last_save:12\r\nrdb_last_save_time:1764000000\r\n${extra}`);

t.test('a durable Redis (AOF on, noeviction) gives no warning', async (t) => {
  const d = judgeDurability(info('aof_enabled:1\r\n# Memory\r\nmaxmemory:0\r\nmaxmemory_policy:noeviction\r\n'));
  t.equal(d.version, '7.0.15');
  t.equal(d.aofEnabled, true);
  t.same(d.warnings, []);
});

t.test('eviction and missing AOF each give their own warning', async (t) => {
  const d = judgeDurability(info('aof_enabled:0\r\nmaxmemory:1048576\r\nmaxmemory_policy:allkeys-lru\r\n'));
  t.equal(d.warnings.length, 2);
  t.match(d.warnings[0], 'maxmemory-policy is allkeys-lru');
  t.match(d.warnings[1], 'appendonly is off');
  t.match(d.warnings[1], '12 changes since');
});

t.test('an INFO without the memory section is not taken for noeviction', async (t) => {
  const d = judgeDurability(info('aof_enabled:1\r\n'));
  t.equal(d.maxmemoryPolicy, 'unknown');
  t.equal(d.warnings.length, 1);
});

t.test('Java major versions, old and new schemes', async (t) => {
  t.equal(parseJavaMajor('openjdk version "17.0.15" 2025-04-15'), 17);
  t.equal(parseJavaMajor('java version "1.8.0_392"'), 8);
  t.equal(parseJavaMajor('openjdk version "25" 2025-09-16'), 25);
  t.equal(parseJavaMajor('garbage'), undefined);
});
