// `--log-format json` makes the collector and the indexer write one JSON object per line (pino),
// for a log shipper: every line parses, carries level, time, service and component, and the error
// that stops a service is a JSON fatal line too. The default stays plain lines.
import t from 'tap';
import { cli } from '../../utils/stack';
import { openWorkload, pipelineEnv, startCollector, startIndexer, stopService, until } from '../../utils/pipeline';

interface LogLine {
  level: number;
  time: string;
  pid: number;
  hostname: string;
  service: string;
  component?: string;
  msg: string;
}

const lines = (text: string): LogLine[] =>
  text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as LogLine);

t.test('collect and index log JSON lines with --log-format json', async (t) => {
  const env = pipelineEnv(t);
  const indexer = await startIndexer(t, env, { extra: ['--log-format', 'json'] });
  const collector = await startCollector(t, env, ['--log-format', 'json']);
  t.equal(await openWorkload(t, env.workDir, 10, 100).done, 10, 'the workload made 10 opens');
  await until('the events to be indexed', async () => ((await indexer.metrics()).get('filewarden_indexer_events_indexed_total')! >= 10 ? true : undefined));
  await stopService(t, collector, 'the collector');
  await stopService(t, indexer, 'the indexer');
  for (const [who, svc] of [['collect', collector], ['index', indexer]] as const) {
    let parsed: LogLine[] = [];
    t.doesNotThrow(() => (parsed = lines(svc.log())), `every line of ${who} is JSON`);
    t.ok(parsed.length >= 3, `${who} logged ${parsed.length} lines`);
    t.ok(parsed.every((l) => l.service === who && l.level === 30 && !Number.isNaN(Date.parse(l.time)) && typeof l.msg === 'string' && l.pid > 0), `each with service ${who}, level info, an ISO time and a message`);
    t.ok(parsed.some((l) => l.component !== undefined && !l.msg.startsWith(`${l.component}: `)), 'the component is a field, not a prefix of the message');
  }
  t.ok(lines(collector.log()).some((l) => l.component === 'collect' && /^stopped at seq \d+/.test(l.msg)), 'the collector says where it stopped');
});

t.test('the error that stops a service is a JSON fatal line, and text stays the default', async (t) => {
  const env = pipelineEnv(t);
  const r = await cli(['--state-dir', env.stateDir, 'index', '--log-format', 'json', '--queue', env.queue, '--retention-policy', '/nonexistent/policy.yaml'], { FILEWARDEN_REDIS_URL: env.redisUrl, FILEWARDEN_ELASTICSEARCH_URL: env.esUrl });
  t.equal(r.code, 1, 'exits 1');
  const out = lines(r.stderr);
  t.equal(out.length, 1, 'one line');
  t.match(out[0], { level: 60, service: 'index', msg: /cannot read the retention policy/ }, 'a fatal JSON line naming the cause');
  const text = await cli(['--state-dir', env.stateDir, 'index', '--queue', env.queue, '--retention-policy', '/nonexistent/policy.yaml'], { FILEWARDEN_REDIS_URL: env.redisUrl, FILEWARDEN_ELASTICSEARCH_URL: env.esUrl });
  t.match(text.stderr, /^filewarden: .*cannot read the retention policy/m, 'without the option: the plain line');
  const bad = await cli(['index', '--log-format', 'xml']);
  t.match(bad.stderr, /argument 'xml' is invalid\. Allowed choices are text, json/, 'an unknown format is refused');
});
