// `filewarden search` finds exactly the events a query and a time window select, in a real Elasticsearch: the
// documents are written in the strict event template's shape under a unique prefix, so nothing else can match.
// The same date math (--from now-1h) is accepted by verify and report.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { installTemplates } from '../../indexer/src/ecs/index-templates';
import { cli, esClient, uniqueName } from '../utils/stack';

const es = esClient();
const base = uniqueName('fw-search');
const prefix = `${base}-events`;
const names = { indexPrefix: prefix, deadletterIndex: `${base}-deadletter`, checkpointIndex: `${base}-checkpoints`, alertIndex: `${base}-alerts`, auditIndex: `${base}-audit` };
const day = new Date().toISOString().slice(0, 10).replace(/-/g, '.');
const index = `${prefix}-${day}`;
const ago = (minutes: number): string => new Date(Date.now() - minutes * 60_000).toISOString();

/** An event document with the fields the table shows; the template is strict, so a wrong field fails the write. */
const event = (id: string, minutesAgo: number, host: string, proc: string, action: string, outcome: string, file: string) => ({
  id,
  doc: {
    '@timestamp': ago(minutesAgo),
    event: { kind: 'event', category: ['file'], type: ['access'], action, outcome, id },
    file: { path: file, name: path.basename(file), directory: path.dirname(file) },
    process: { pid: 4242, name: proc },
    user: { id: '0', name: 'root' },
    host: { name: host },
  },
});

const events = [
  event('e1', 50, 'web1', 'cat', 'open', 'success', '/etc/shadow'),
  event('e2', 40, 'web1', 'sshd', 'open', 'success', '/etc/ssh/sshd_config'),
  event('e3', 30, 'db1', 'vi', 'open', 'failure', '/etc/shadow'),
  event('e4', 20, 'db1', 'cat', 'open', 'success', '/tmp/line\nbreak'),
];
// Outside the default 24 hours and outside --from now-1h.
const old = event('e0', 3 * 24 * 60, 'web1', 'cat', 'open', 'success', '/etc/shadow');

const search = (args: string[]) => cli(['search', '--index-prefix', prefix, '--alert-index', names.alertIndex, '--audit-index', names.auditIndex, ...args]);
const paths = (ndjson: string): string[] => ndjson.trimEnd().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { file: { path: string } }).file.path);
const ids = (ndjson: string): string[] => ndjson.trimEnd().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { event: { id: string } }).event.id);

t.before(async () => {
  await installTemplates(es, names);
  await es.bulk({ refresh: true, operations: [...events, old].flatMap((e) => [{ create: { _index: index, _id: e.id } }, e.doc]) });
});
t.teardown(async () => {
  // The cluster refuses wildcard deletes (action.destructive_requires_name): delete what the pattern names.
  const created = Object.keys(await es.indices.get({ index: `${base}-*`, allow_no_indices: true }));
  if (created.length) await es.indices.delete({ index: created });
  for (const name of Object.values(names)) await es.indices.deleteIndexTemplate({ name }).catch(() => undefined);
  await es.close();
});

t.test('with no query, search returns every event of the last 24 hours, oldest first, as NDJSON of the documents', async (t) => {
  const r = await search(['--json']);
  t.equal(r.code, 0, r.stderr);
  t.strictSame(ids(r.stdout), ['e1', 'e2', 'e3', 'e4']);
  t.strictSame(JSON.parse(r.stdout.split('\n')[0]!), events[0]!.doc, 'each line is the _source, unchanged');
  t.match(r.stderr, /^search: 4 events in /, 'the count goes to stderr, so stdout stays NDJSON');
});

t.test('a query and the window narrow the result', async (t) => {
  const shadow = await search(['file.path:"/etc/shadow"', '--json']);
  t.strictSame(ids(shadow.stdout), ['e1', 'e3'], 'the day-old read of /etc/shadow is outside the default 24 hours');
  const wider = await search(['file.path:"/etc/shadow"', '--from', 'now-7d', '--json']);
  t.strictSame(ids(wider.stdout), ['e0', 'e1', 'e3']);
  const both = await search(['file.path:"/etc/shadow" AND host.name:db1', '--json']);
  t.strictSame(paths(both.stdout), ['/etc/shadow']);
  t.strictSame(ids(both.stdout), ['e3']);
  const window = await search(['--from', 'now-45m', '--to', ago(25), '--json']);
  t.strictSame(ids(window.stdout), ['e2', 'e3'], '--from and --to bound @timestamp');
  const limited = await search(['--size', '2', '--json']);
  t.strictSame(ids(limited.stdout), ['e1', 'e2'], '--size keeps the oldest');
  t.match(limited.stderr, /^search: 2 of 4 events/);
});

t.test('the table shows time, host, user, process, action, outcome and path, one line per event', async (t) => {
  const r = await search(['host.name:db1']);
  t.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  t.strictSame(lines[0]!.split(/\s+/), ['TIME', 'HOST', 'USER', 'PROCESS', 'ACTION', 'OUTCOME', 'PATH']);
  t.strictSame(lines.slice(1, 3).map((l) => l.split(/\s+/).slice(1)), [
    ['db1', 'root', 'vi', 'open', 'failure', '/etc/shadow'],
    ['db1', 'root', 'cat', 'open', 'success', '/tmp/line\\x0abreak'],
  ], 'a newline in a path is escaped, so each event stays on one line');
  t.equal(lines[1]!.split(/\s+/)[0], events[2]!.doc['@timestamp']);
  t.match(lines[3], /^search: 2 events in /);
  t.equal(lines.length, 4);
});

t.test('an empty result says so and exits 0', async (t) => {
  const r = await search(['process.name:nothing-runs-this']);
  t.strictSame([r.code, r.stdout, r.stderr], [0, 'search: no events match\n', '']);
  const alerts = await search(['--alerts']);
  t.strictSame([alerts.code, alerts.stdout], [0, 'search: no alerts match\n'], 'a missing alert index is an empty result');
});

t.test("a query Elasticsearch cannot parse prints its reason on one line and exits 1", async (t) => {
  const r = await search(['file.path:(/etc AND']);
  t.equal(r.code, 1);
  t.equal(r.stdout, '');
  t.match(r.stderr, /^filewarden: Elasticsearch refused the query: .*(parse|Cannot|Encountered).*\n$/);
  t.equal(r.stderr.split('\n').length, 2, 'one line');
  t.notMatch(r.stderr, /org\.(apache|elasticsearch)\./, 'without Java class names');
  const empty = await search(['file.path:(/etc AND', '--from', '2020-01-01', '--to', '2020-01-02']);
  t.strictSame([empty.code, empty.stderr], [1, r.stderr], 'also when no document falls in the window (a skipped shard never parses the query)');
});

t.test('options search would ignore are refused, not silently dropped', async (t) => {
  const r = await search(['--deadletter-index', 'x-dead']);
  t.equal(r.code, 1);
  t.match(r.stderr, /^filewarden: --deadletter-index applies not to search/);
  const both = await search(['--alerts', '--audit']);
  t.equal(both.code, 1);
  t.match(both.stderr, /--alerts and --audit choose one index each/);
});

t.test('date math: --from now-1h is accepted by search, verify and report; a bad time is refused in one line', async (t) => {
  const s = await search(['--from', 'now-1h', '--to', 'now', '--json']);
  t.strictSame([s.code, ids(s.stdout)], [0, ['e1', 'e2', 'e3', 'e4']]);
  const indices = ['--index-prefix', prefix, '--deadletter-index', names.deadletterIndex, '--checkpoint-index', names.checkpointIndex, '--alert-index', names.alertIndex, '--audit-index', names.auditIndex];
  const v = await cli(['verify', '--from', 'now-1h', ...indices]);
  t.equal(v.code, 0, v.stderr);
  t.match(v.stdout, /^verify: no chain links between /);
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fw-search-')), 'report.json');
  t.teardown(() => fs.rmSync(path.dirname(out), { recursive: true, force: true }));
  const rep = await cli(['report', '--from', 'now-1h', '--to', 'now', '--format', 'json', '--out', out, ...indices]);
  t.equal(rep.code, 0, rep.stderr);
  t.ok(fs.existsSync(out), 'the report was written');
  const bad = await search(['--from', 'last tuesday']);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /^error: option '--from <time>' argument 'last tuesday' is invalid\. expected an ISO 8601 date or time/);
});
