// Retention end to end: events, alerts and chain links from the real pipeline; the retention job
// deletes exactly what is older than the policy allows, honours legal holds by host and by index,
// records what it deleted, and verify afterwards counts those events as expired, not deleted.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { allIndexNames, chainLinks, complianceJson, drain } from '../../utils/compliance';
import { openWorkload, pipelineEnv, readIndexed, sleep, startCollector, startIndexer, stopService, waitFor } from '../../utils/pipeline';
import { cli } from '../../utils/stack';

interface Run {
  run_id: string;
  dry_run: boolean;
  classes: { class: string; deleted: number; indices_deleted: string[]; held: string[]; cutoff: string }[];
  streams: { from: number; to: number; count: number }[];
  chains: { through: number; links: number }[];
}

const DAY = 86_400_000;

t.test('retention deletes exactly the expired data, records evidence and honours legal holds', async (t) => {
  const env = pipelineEnv(t);
  fs.mkdirSync(path.join(env.workDir, 'old'));
  fs.mkdirSync(path.join(env.workDir, 'new'));
  const rules = path.join(env.stateDir, 'rules.yaml');
  fs.writeFileSync(rules, `version: 1\nrules:\n  - id: old-files\n    name: a file under old/\n    severity: low\n    match:\n      path: ['${env.workDir}/old/*']\n`);
  const collector = await startCollector(t, env);
  const indexer = await startIndexer(t, env, { extra: ['--rules', rules] });
  // Phase A (to expire), a pause longer than a batch, the cutoff, another pause, phase B (to keep).
  t.equal(await openWorkload(t, path.join(env.workDir, 'old'), 150, 300).done, 150);
  t.ok(await waitFor(async () => (await readIndexed(env)).length >= 150, 30_000), 'phase A is indexed');
  await sleep(1000);
  const cutoff = Date.now();
  await sleep(1000);
  t.equal(await openWorkload(t, path.join(env.workDir, 'new'), 120, 300).done, 120);
  await drain(t, env, collector, indexer);
  const before = await readIndexed(env);
  const old = before.filter((d) => d.path.includes('/old/'));
  const kept = before.filter((d) => !d.path.includes('/old/'));
  t.equal(old.length, 150, '150 events to expire');
  const alertsBefore = (await env.es.count({ index: env.alertIndex })).count;
  t.equal(alertsBefore, 150, 'one alert per phase A event');
  const linksBefore = await chainLinks(env);
  const oldLinks = linksBefore.filter((l) => Date.parse(l.t1) < cutoff);
  t.ok(oldLinks.length > 0 && linksBefore.every((l) => Date.parse(l.t1) < cutoff || Date.parse(l.t0) >= cutoff), 'no batch straddles the cutoff');
  const host = (await env.es.search<{ host: { name: string } }>({ index: `${env.indexPrefix}-*`, size: 1 })).hits.hits[0]!._source!.host.name;
  const eventIndex = (await env.es.search({ index: `${env.indexPrefix}-*`, size: 1 })).hits.hits[0]!._index;

  const policy = (holds: string): string => {
    const f = path.join(env.stateDir, `policy-${Math.random().toString(36).slice(2)}.yaml`);
    fs.writeFileSync(f, `events: 1\nalerts: 1\naudit: 3650\nholds:${holds || ' []'}\n`);
    return f;
  };
  const asOf = ['--as-of', new Date(cutoff + DAY).toISOString()];
  const run = (file: string, extra: string[] = []) => complianceJson<Run>(env, ['retention', 'run', '--policy', file, ...asOf, ...extra]);
  const evidence = async (): Promise<Run[]> => {
    await env.es.indices.refresh({ index: env.auditIndex });
    const r = await env.es.search<{ filewarden: { retention: Run } }>({ index: env.auditIndex, size: 100, query: { exists: { field: 'filewarden.retention.run_id' } } });
    return r.hits.hits.map((h) => h._source!.filewarden.retention);
  };

  // A bad policy is refused with its place, and nothing runs.
  const badFile = path.join(env.stateDir, 'bad.yaml');
  fs.writeFileSync(badFile, 'events: 0\nalerts: 30\nholds:\n  - host: x\n');
  const bad = await cli(['retention', 'run', '--policy', badFile, ...allIndexNames(env)], { FILEWARDEN_ELASTICSEARCH_URL: env.esUrl });
  t.equal(bad.code, 1, 'a bad policy exits 1');
  t.match(bad.stderr, 'events: expected whole days from 1 to 36500, got 0');
  t.match(bad.stderr, 'audit: missing');
  t.match(bad.stderr, 'holds[0].reason: a legal hold needs a reason');

  // Dry run: counts, deletes nothing, records nothing.
  const dry = await run(policy(''), ['--dry-run']);
  t.equal(dry.r.code, 0);
  t.equal(dry.json.classes.find((c) => c.class === 'events')!.deleted, 150, 'the dry run counts the 150 events');
  t.same(dry.json.chains.map((c) => c.links), [oldLinks.length], 'and their chain links');
  t.equal((await readIndexed(env)).length, before.length, 'the dry run deleted nothing');
  t.same(await evidence(), [], 'the dry run recorded nothing');

  // A hold on the host keeps everything of it; the run says so in its evidence.
  const held = await run(policy(`\n  - host: ${host}\n    reason: case 2026-17`));
  t.equal(held.r.code, 0);
  for (const c of held.json.classes) t.equal(c.deleted, 0, `host hold: no ${c.class} deleted`);
  t.match(held.json.classes.find((c) => c.class === 'events')!.held.join('\n'), `host ${host} (case 2026-17): 150 documents in ${eventIndex}`);
  t.equal((await readIndexed(env)).length, before.length, 'the host hold kept every event');

  // A hold on the event index keeps its events (alerts, in their own index, still go).
  const idxHeld = await run(policy(`\n  - index: ${eventIndex}\n    reason: litigation`));
  t.equal(idxHeld.json.classes.find((c) => c.class === 'events')!.deleted, 0, 'index hold: no event deleted');
  t.match(idxHeld.json.classes.find((c) => c.class === 'events')!.held.join('\n'), `index ${eventIndex} (litigation): 150 documents`);
  t.equal(idxHeld.json.classes.find((c) => c.class === 'alerts')!.deleted, 150, 'the alerts of phase A are past their own retention');
  t.equal((await readIndexed(env)).length, before.length, 'the index hold kept every event');
  t.equal(linksBefore.length, (await chainLinks(env)).length, 'and the chain links of the held day');

  // No hold: exactly phase A goes, with its links; phase B stays untouched.
  const full = await run(policy(''));
  const ev = full.json.classes.find((c) => c.class === 'events')!;
  t.equal(ev.deleted, 150, 'deleted: the 150 events');
  t.same(ev.indices_deleted, [], 'the day is not over at the cutoff: documents, not the index');
  t.same(full.json.streams.map((s) => [s.from, s.to, s.count]), [[Math.min(...old.map((d) => d.seq)), Math.max(...old.map((d) => d.seq)), 150]], 'the evidence names the sequence range deleted');
  t.same(full.json.chains.map((c) => [c.through, c.links]), [[oldLinks[oldLinks.length - 1]!.last, oldLinks.length]], 'and the last chain link cut');
  const after = await readIndexed(env);
  t.same(after.map((d) => d.id).sort(), kept.map((d) => d.id).sort(), 'exactly the phase B events remain');
  t.equal((await chainLinks(env)).length, linksBefore.length - oldLinks.length, 'exactly the phase A links are gone');
  const runs = await evidence();
  t.equal(runs.length, 3, 'three runs recorded (the two held and the full one)');
  t.ok(runs.some((r) => r.run_id === full.json.run_id && !r.dry_run), 'the full run is in the audit index');

  // Verify after retention: the deleted events are expired, the chain still holds.
  const v = await complianceJson<{ ok: boolean; findings: unknown[]; streams: { expired: number; intact: number }[] }>(env, ['verify', '--from', new Date(cutoff - DAY).toISOString()]);
  t.equal(v.r.code, 0, 'verify passes after retention');
  t.same(v.json.findings, [], 'no findings: the first remaining link follows a head the retention run recorded');
  t.equal(v.json.streams[0]!.intact, kept.length, 'every remaining event intact');

  // Three days on, the whole daily index is due and goes in one delete.
  const later = await complianceJson<Run>(env, ['retention', 'run', '--policy', policy(''), '--as-of', new Date(cutoff + 3 * DAY).toISOString()]);
  const ev2 = later.json.classes.find((c) => c.class === 'events')!;
  t.same(ev2.indices_deleted, [eventIndex], 'the expired day index is deleted whole');
  t.equal(ev2.deleted, kept.length, 'with its events counted');
  t.same(later.json.chains.map((c) => c.links), [linksBefore.length - oldLinks.length], 'and the remaining links');
  t.equal(later.json.streams[0]!.count, kept.length, 'the evidence counts the whole index per stream');
  await stopService(t, indexer, 'the indexer');
});
