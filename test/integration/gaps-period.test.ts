// `filewarden gaps --from/--to` checks the host boots that have events or checkpoints in the period,
// each over its whole stream, with date math for the bounds.
import t from 'tap';
import { installTemplates } from '../../indexer/src/ecs/index-templates';
import { cli, esClient, uniqueName } from '../utils/stack';

interface Gap {
  bootId: string;
  missing: { from: number; to: number }[];
  missingCount: number;
}

t.test('gaps --from/--to keeps the boots seen in the period, and checks each in full', async (t) => {
  const es = esClient();
  const name = uniqueName('fw-gaps');
  const events = `${name}-events-2026.11.30`;
  const dl = `${name}-deadletter`;
  const ck = `${name}-checkpoints`;
  t.teardown(() => es.indices.delete({ index: `${events},${dl},${ck}`, ignore_unavailable: true }));
  // The indexer's own templates, under names of this test.
  await installTemplates(es, { indexPrefix: `${name}-events`, deadletterIndex: dl, checkpointIndex: ck, alertIndex: `${name}-alerts`, auditIndex: `${name}-audit` });
  t.teardown(() => es.indices.deleteIndexTemplate({ name: [`${name}-events`, dl, ck, `${name}-alerts`, `${name}-audit`].join(',') }));
  for (const index of [events, dl, ck]) await es.indices.create({ index });
  const ago = (min: number): string => new Date(Date.now() - min * 60_000).toISOString();
  const ev = (boot: string, seq: number, at: string) => ({ '@timestamp': at, host: { name: 'h' }, filewarden: { boot_id: boot, seq_stream: 'open', seq } });
  // Boot "old": events 1, 2 and 4 three hours ago (3 missing). Boot "new": 1 and 3 five minutes ago
  // (2 missing), and early events from 2 hours before that (a long boot still counts in full).
  const docs = [ev('old', 1, ago(180)), ev('old', 2, ago(180)), ev('old', 4, ago(179)), ev('new', 1, ago(125)), ev('new', 3, ago(5))];
  await es.bulk({ refresh: true, operations: docs.flatMap((d) => [{ create: { _index: events } }, d]) });
  await es.index({ index: ck, refresh: true, document: { '@timestamp': ago(170), host: { name: 'h' }, filewarden: { boot_id: 'old', seq_stream: 'open', seq_assigned: 6 } } });
  const gaps = async (...extra: string[]): Promise<Gap[]> => {
    const r = await cli(['gaps', '--index-prefix', `${name}-events`, '--deadletter-index', dl, '--checkpoint-index', ck, '--json', ...extra]);
    t.equal(r.code, 1, `gaps ${extra.join(' ')} exits 1: events are missing (${r.stderr.trim()})`);
    return (JSON.parse(r.stdout) as Gap[]).sort((a, b) => a.bootId.localeCompare(b.bootId));
  };
  const summary = (g: Gap[]) => g.map((x) => [x.bootId, x.missing]);
  t.strictSame(summary(await gaps()), [['new', [{ from: 2, to: 2 }]], ['old', [{ from: 3, to: 3 }, { from: 5, to: 6 }]]], 'no period: every boot');
  t.strictSame(summary(await gaps('--from', 'now-1h')), [['new', [{ from: 2, to: 2 }]]], '--from now-1h: the boot active in the last hour, in full');
  t.strictSame(summary(await gaps('--from', 'now-4h', '--to', 'now-150m')), [['old', [{ from: 3, to: 3 }, { from: 5, to: 6 }]]], 'a window three hours back: the old boot, with its checkpointed tail');
  const none = await cli(['gaps', '--index-prefix', `${name}-events`, '--deadletter-index', dl, '--checkpoint-index', ck, '--from', 'now+1h', '--to', 'now+2h']);
  t.equal(none.code, 0);
  t.match(none.stdout, /^gaps: no sequenced events between \S+ and \S+$/m, 'an empty period says so');
  const backwards = await cli(['gaps', '--index-prefix', `${name}-events`, '--from', 'now', '--to', 'now-1h']);
  t.not(backwards.code, 0, 'a period that ends before it starts is refused');
  t.match(backwards.stderr, /--from \S+ is after --to \S+/);
});
