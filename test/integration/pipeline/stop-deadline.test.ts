// --duration holds whatever state Redis is in: an indexer or a collector that cannot reach Redis
// still stops on time, and the collector never prints the Redis password it was given.
import t from 'tap';
import { choosePort } from '../../../stack/src/ports';
import { tempDir } from '../../utils/kernel';
import { cli, endpoints } from '../../utils/stack';
import { pipelineEnv, indexNames } from '../../utils/pipeline';

/** A loopback port where nothing listens. */
const closedPort = async (): Promise<number> => (await choosePort('nothing', 16600, { explicit: false })).port;

t.test('index --duration 3 stops on time while Redis is unreachable', async (t) => {
  const env = pipelineEnv(t);
  const t0 = Date.now();
  const r = await cli(
    ['--state-dir', tempDir(t, 'fw-deadline-'), 'index', '--duration', '3', '--metrics-port', '0', '--queue', env.queue, ...indexNames(env), '--alert-index', env.alertIndex, '--audit-index', env.auditIndex],
    { FILEWARDEN_REDIS_URL: `redis://127.0.0.1:${await closedPort()}`, FILEWARDEN_ELASTICSEARCH_URL: endpoints().elasticsearchUrl },
  );
  const s = (Date.now() - t0) / 1000;
  t.equal(r.code, 0, 'exits 0');
  t.ok(s < 15, `it took ${s.toFixed(1)} s`);
  t.match(r.stderr, /index: stopping \(duration\)/);
});

t.test('collect --duration 3 stops on time while Redis is unreachable, with enforcement on, and never prints the Redis password', async (t) => {
  const dir = tempDir(t, 'fw-deadline-');
  const keys = await cli(['keys', 'generate', '--out', `${dir}/keys`]);
  t.equal(keys.code, 0);
  const t0 = Date.now();
  const r = await cli(
    ['--state-dir', dir, 'collect', '--hooks', 'tracepoint', '--include-path', `${dir}/`, '--duration', '3', '--metrics-port', '0', '--command-pubkey', `${dir}/keys/command-signing.pub`],
    { FILEWARDEN_REDIS_URL: `redis://filewarden:s3cret-password@127.0.0.1:${await closedPort()}` },
  );
  const s = (Date.now() - t0) / 1000;
  t.equal(r.code, 0, 'exits 0: every event read is in the spool');
  t.ok(s < 25, `it took ${s.toFixed(1)} s`);
  t.match(r.stderr, /collect: stopped at seq \d+/);
  t.match(r.stderr, /collect: queue \S+ at redis:\/\/filewarden:\*\*\*@127\.0\.0\.1:\d+;/, 'the URL is logged with the password masked');
  t.notMatch(r.stdout + r.stderr, /s3cret-password/, 'the password appears nowhere');
});
