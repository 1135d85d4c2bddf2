// Secrets of the embedded stack in text: a password file fills in a URL's missing password, and the
// Redis ACL and firewall rules say what they promise.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { withPasswordFile } from '../../../stack/src/endpoints';
import { firewallRuleset, firewallTable } from '../../../stack/src/firewall';
import { redisAclConfig } from '../../../stack/src/redis-auth';

t.test('FILEWARDEN_REDIS_PASSWORD_FILE supplies the password of a URL without one, and never overrides one', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-pwfile-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'password');
  fs.writeFileSync(file, 'p@ss word\n', { mode: 0o600 });
  const env = { FILEWARDEN_REDIS_PASSWORD_FILE: file };
  const url = withPasswordFile('redis://filewarden@127.0.0.1:6380', env);
  t.equal(url, 'redis://filewarden:p%40ss%20word@127.0.0.1:6380');
  t.equal(decodeURIComponent(new URL(url).password), 'p@ss word', 'the trailing newline is not part of it');
  t.equal(withPasswordFile('redis://u:inline@h:1', env), 'redis://u:inline@h:1', 'a password in the URL wins');
  t.equal(withPasswordFile('redis://h:1', {}), 'redis://h:1', 'no file, no change');
  t.throws(() => withPasswordFile('redis://h:1', { FILEWARDEN_REDIS_PASSWORD_FILE: path.join(dir, 'missing') }), { code: 'FW_STACK_REDIS_AUTH' });
});

t.test('the Redis ACL turns the default user off and keeps only a hash of the password', async (t) => {
  const lines = redisAclConfig('0123456789abcdef');
  t.match(lines[0], /^user default off resetpass /, 'nobody can log in as the default user');
  t.match(lines[0], / ~\* &\* \+@all$/, 'which keeps every permission: Redis replays the AOF as that user');
  t.match(lines[1], /^user filewarden on #[0-9a-f]{64} /);
  t.notMatch(lines.join('\n'), '0123456789abcdef', 'the password itself is not in redis.conf');
});

t.test('the firewall table refuses the stack ports to every socket owner but the allowed uids, on IPv4 and IPv6 loopback', async (t) => {
  const table = firewallTable('/srv/fw-example-state');
  t.match(table, /^filewarden_[0-9a-f]{12}$/);
  t.not(firewallTable('/tmp/other'), table, 'one table per state directory');
  const rules = firewallRuleset({ table, ports: [9300, 6380, 9200], uids: [999, 0] }, '/srv/fw-example-state');
  t.match(rules, `table inet ${table} {}\ndelete table inet ${table}\n`, 'replaced in one transaction');
  t.match(rules, 'elements = { 6380, 9200, 9300 }');
  t.match(rules, 'elements = { 0, 999 }');
  t.match(rules, 'type filter hook output priority filter; policy accept;');
  t.match(rules, 'ip daddr 127.0.0.0/8 tcp dport @ports meta skuid != @uids reject with tcp reset');
  t.match(rules, 'ip6 daddr ::1 tcp dport @ports meta skuid != @uids reject with tcp reset');
});
