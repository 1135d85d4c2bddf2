// A collector or indexer that cannot start says why and exits 1, instead of hanging on its open
// Redis connection and metrics server (a supervisor then restarts it).
import t from 'tap';
import { tempDir } from '../../utils/kernel';
import { cli, endpoints } from '../../utils/stack';

t.test('a collector whose probe cannot load exits 1 with the reason', async (t) => {
  const r = await cli(['--state-dir', tempDir(t, 'fw-start-'), 'collect', '--ringbuf-bytes', '3000', '--metrics-port', '0'], { FILEWARDEN_REDIS_URL: endpoints().redisUrl });
  t.equal(r.code, 1);
  t.match(r.stderr, /ringbuf|ring buffer/i, 'the message names the bad setting');
});

t.test('an indexer that cannot reach Elasticsearch exits 1 with the reason', async (t) => {
  const r = await cli(['--state-dir', tempDir(t, 'fw-start-'), 'index', '--es-url', 'http://127.0.0.1:9', '--metrics-port', '0'], { FILEWARDEN_REDIS_URL: endpoints().redisUrl });
  t.equal(r.code, 1);
  t.match(r.stderr, /cannot install the index templates: connect ECONNREFUSED 127\.0\.0\.1:9/);
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
});
