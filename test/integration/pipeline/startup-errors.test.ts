// A collector or indexer that cannot start says why and exits 1, instead of hanging on its open
// Redis connection and metrics server (a supervisor then restarts it).
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { pinDirOf } from '../../../collector/src/capture/pinned-capture';
import { tempDir } from '../../utils/kernel';
import { cli, endpoints, uniqueName } from '../../utils/stack';

// The lsm hook cannot load on this host: kernel lockdown refuses LSM programs at load (measured,
// ../shared/DESIGN.md). A bad --ringbuf-bytes no longer reaches the probe: the parser refuses it.
// Its own queue and a duration: should the probe ever load here, nothing lands in the user's queue.
t.test('a collector whose probe cannot load exits 1 with the reason, and leaves nothing pinned', async (t) => {
  const state = tempDir(t, 'fw-start-');
  const r = await cli(['--state-dir', state, 'collect', '--hooks', 'lsm', '--queue', uniqueName('fwstart'), '--duration', '5', '--metrics-port', '0'], { FILEWARDEN_REDIS_URL: endpoints().redisUrl });
  t.equal(r.code, 1);
  t.match(r.stderr, /^filewarden: lsm hook: loading the lsm programs failed: .*lockdown.*\[FW_ERR_BPF_LOAD/m, 'the message names the hook and why');
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
  t.notOk(fs.existsSync(pinDirOf(path.join(state, 'collector'))), 'no pin directory is left behind');
});

t.test('an indexer that cannot reach Elasticsearch exits 1 with the reason', async (t) => {
  const r = await cli(['--state-dir', tempDir(t, 'fw-start-'), 'index', '--es-url', 'http://127.0.0.1:9', '--metrics-port', '0'], { FILEWARDEN_REDIS_URL: endpoints().redisUrl });
  t.equal(r.code, 1);
  t.match(r.stderr, /cannot install the index templates: connect ECONNREFUSED 127\.0\.0\.1:9/);
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
});
