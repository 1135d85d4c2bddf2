// Options are checked before anything starts: documented bounds are enforced, service URLs have the
// scheme their client speaks, and an option the chosen mode would ignore is refused, not dropped.
import t, { type Test } from 'tap';
import { tempDir } from '../utils/kernel';
import { cli } from '../utils/stack';

/** Runs the CLI and expects exit 1 with a message matching `why` (and never the password). */
async function refused(t: Test, args: string[], why: RegExp, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const r = await cli(args, env);
  t.equal(r.code, 1, `${args.join(' ')}: exit 1`);
  t.match(r.stderr, why, `${args.join(' ')}: says why`);
  t.notMatch(r.stderr, /s3cret/, 'no password in the message');
}

t.test('--command-lifetime-ms is at most the 10 minutes collectors accept', async (t) => {
  await refused(t, ['index', '--command-lifetime-ms', '99999999'], /at most 600000 ms \(10 minutes\)/);
  await refused(t, ['index', '--command-lifetime-ms', '600001'], /at most 600000 ms/);
});

t.test('numbers a timer cannot hold and ring buffer sizes the kernel refuses are refused', async (t) => {
  await refused(t, ['collect', '--stdout', '--ringbuf-bytes', '3000'], /power of two from 4096/);
  await refused(t, ['collect', '--stdout', '--ringbuf-bytes', '8589934592'], /power of two from 4096/);
  await refused(t, ['collect', '--stdout', '--duration', '3000000'], /at most 2147483 seconds/);
  await refused(t, ['index', '--duration', '3000000'], /at most 2147483 seconds/);
  await refused(t, ['index', '--retention-interval-min', '40000'], /at most 35791 minutes/);
  await refused(t, ['collect', '--batch-delay-ms', '3000000000'], /at most 2147483647 ms/);
});

t.test('Redis URLs are redis://, rediss:// or redis-sentinel://, Elasticsearch URLs http:// or https://', async (t) => {
  const dir = tempDir(t, 'fw-options-');
  await refused(t, ['--state-dir', dir, 'collect', '--redis-url', 'http://filewarden:s3cret@127.0.0.1:6380'], /--redis-url must be a redis:\/\/ or rediss:\/\/ or redis-sentinel:\/\/ URL .*not "http:\/\/filewarden:\*\*\*@127\.0\.0\.1:6380"/s);
  await refused(t, ['--state-dir', dir, 'index', '--redis-url', 'http://127.0.0.1:6380', '--es-url', 'http://127.0.0.1:1'], /--redis-url must be a redis:\/\//);
  await refused(t, ['--state-dir', dir, 'index', '--redis-url', 'redis://127.0.0.1:1', '--es-url', 'redis://127.0.0.1:9200'], /--es-url must be a http:\/\/ or https:\/\//);
  await refused(t, ['--state-dir', dir, 'index', '--es-url', 'http://127.0.0.1:1'], /FILEWARDEN_REDIS_URL must be a redis:\/\//, { FILEWARDEN_REDIS_URL: '127.0.0.1:6380' });
  await refused(t, ['gaps', '--es-url', 'localhost:9200'], /--es-url must be a http:\/\//);
  await refused(t, ['verify', '--from', '2026-01-01'], /FILEWARDEN_ELASTICSEARCH_URL must be/, { FILEWARDEN_ELASTICSEARCH_URL: 'ftp://x' });
});

t.test('collect --stdout refuses every queue option given with it, naming them', async (t) => {
  const dir = tempDir(t, 'fw-options-');
  const queueOnly: string[][] = [
    ['--command-pubkey', `${dir}/k.pub`],
    ['--redis-url', 'redis://127.0.0.1:6380'],
    ['--queue', 'q'],
    ['--batch-events', '10'],
    ['--batch-delay-ms', '10'],
    ['--spool-max-bytes', '1m'],
    ['--metrics-port', '0'],
    ['--metrics-host', '127.0.0.1'],
    ['--no-chain'],
    ['--no-pin'],
    ['--host-name', 'h1'],
    ['--host-id', 'id1'],
    ['--redis-wait-replicas', '1'],
    ['--redis-wait-ms', '500'],
  ];
  for (const opt of queueOnly) {
    await refused(t, ['--state-dir', dir, 'collect', '--stdout', ...opt], new RegExp(`^filewarden: ${opt[0]} applies only without --stdout`, 'm'));
  }
  await refused(t, ['--state-dir', dir, 'collect', '--stdout', '--queue', 'q', '--no-chain'], /--queue, --no-chain apply only without --stdout/);
  await refused(t, ['--state-dir', dir, 'collect', '--count', '1'], /--count applies to --stdout only/);
  await refused(t, ['--state-dir', dir, 'collect', '--redis-wait-ms', '5000'], /at most 4000 ms: an add that takes 5 s in all counts as failed/);
  await refused(t, ['--state-dir', dir, 'collect', '--redis-wait-replicas', 'x'], /a number of replicas from 0 to 16/);
  await refused(t, ['--state-dir', dir, 'collect', '--host-name', 'a/b'], /a host name is 1 to 255 of/);
});

t.test('index and stack up refuse options their mode would ignore', async (t) => {
  const dir = tempDir(t, 'fw-options-');
  await refused(t, ['--state-dir', dir, 'index', '--command-lifetime-ms', '30000', '--es-url', 'http://127.0.0.1:1'], /--command-lifetime-ms applies only with --command-key/);
  await refused(t, ['--state-dir', dir, 'index', '--retention-interval-min', '5', '--es-url', 'http://127.0.0.1:1'], /--retention-interval-min applies only with --retention-policy/);
  await refused(t, ['--state-dir', dir, 'stack', 'up', '--services', 'redis', '--es-port', '9999'], /--es-port applies only when --services includes elasticsearch/);
  await refused(t, ['--state-dir', dir, 'stack', 'up', '--services', 'elasticsearch', '--redis-port', '9999'], /--redis-port applies only when --services includes redis/);
});
