// Tamper evidence end to end: the real collector signs its batches, the real indexer stores them,
// and `filewarden verify` names exactly the events a test then deletes, modifies or reorders in
// Elasticsearch, with no finding at all on the untouched data.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { chainLinks, complianceJson, drain, eventAt } from '../../utils/compliance';
import { tempDir } from '../../utils/kernel';
import { openWorkload, pipelineEnv, startCollector, startIndexer, stopService } from '../../utils/pipeline';

interface Finding {
  kind: string;
  seq?: number;
  docId?: string;
  detail: string;
}
interface VerifyJson {
  ok: boolean;
  streams: { links: number; intact: number; firstSeq: number; lastSeq: number; keyTrusted?: boolean; expired: number }[];
  findings: Finding[];
}

t.test('verify names every deleted, modified and reordered event, and nothing on clean data', async (t) => {
  const env = pipelineEnv(t);
  const collector = await startCollector(t, env);
  const indexer = await startIndexer(t, env);
  // 600 opens over about 3 s: a few dozen batches, so a few dozen signed links.
  t.equal(await openWorkload(t, env.workDir, 600, 200).done, 600);
  const n = await drain(t, env, collector, indexer);
  const from = ['--from', new Date(Date.now() - 3_600_000).toISOString()];

  const clean = await complianceJson<VerifyJson>(env, ['verify', ...from]);
  t.equal(clean.r.code, 0, 'verify exits 0 on clean data');
  t.same(clean.json.findings, [], 'no finding on clean data');
  t.equal(clean.json.streams.length, 1, 'one stream');
  const s = clean.json.streams[0]!;
  t.equal(s.intact, n, `all ${n} events are intact`);
  t.same([s.firstSeq, s.lastSeq], [1, n], 'the links cover every number');
  const links = await chainLinks(env);
  t.ok(links.length >= 5, `${links.length} signed links`);
  t.equal(s.links, links.length);

  // Pinned keys: the collector's own public key is trusted; another key makes every link a finding.
  const keys = tempDir(t, 'fw-keys-');
  const host = (await eventAt(env, 1)).source as { host: { name: string } };
  fs.copyFileSync(path.join(env.stateDir, 'collector', 'host-signing.pub'), path.join(keys, `${host.host.name}.pub`));
  const pinned = await complianceJson<VerifyJson>(env, ['verify', ...from, '--trusted-keys', keys]);
  t.equal(pinned.r.code, 0);
  t.equal(pinned.json.streams[0]!.keyTrusted, true, 'the pinned key is the one that signed');
  // During a rotation a host has two pinned keys: <host>~<label>.pub.
  fs.writeFileSync(path.join(keys, `${host.host.name}~retired.pub`), crypto.generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));
  const rotating = await complianceJson<VerifyJson>(env, ['verify', ...from, '--trusted-keys', keys]);
  t.equal(rotating.json.streams[0]!.keyTrusted, true, 'a second pinned key for the host does not hide the first');
  const other = tempDir(t, 'fw-keys-');
  fs.writeFileSync(path.join(other, `${host.host.name}.pub`), crypto.generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));
  const wrong = await complianceJson<VerifyJson>(env, ['verify', ...from, '--trusted-keys', other]);
  t.equal(wrong.r.code, 1, 'verify exits 1 with a key the host does not hold');
  t.equal(wrong.json.findings.filter((f) => f.kind === 'untrusted-key').length, links.length, 'every link is signed by an untrusted key');

  // Tamper, each in a different link: delete two events, change one, swap the numbers of two, and
  // alter one link's times (its events can then no longer be vouched for).
  const inLink = (i: number, k: number): number => links[i]!.first + Math.min(k, links[i]!.last - links[i]!.first);
  const deleted = [inLink(0, 1), inLink(1, 0)];
  const modified = inLink(2, 0);
  const swapped = [inLink(3, 0), inLink(3, 1)];
  t.not(swapped[0], swapped[1], 'the swap needs a link of two events or more');
  for (const q of deleted) {
    const e = await eventAt(env, q);
    await env.es.delete({ index: e.index, id: e.id });
  }
  const m = await eventAt(env, modified);
  await env.es.update({ index: m.index, id: m.id, doc: { file: { path: '/tmp/nothing-to-see' } } });
  const a = await eventAt(env, swapped[0]!);
  const b = await eventAt(env, swapped[1]!);
  await env.es.update({ index: a.index, id: a.id, doc: { event: { sequence: swapped[1] }, filewarden: { seq: swapped[1] } } });
  await env.es.update({ index: b.index, id: b.id, doc: { event: { sequence: swapped[0] }, filewarden: { seq: swapped[0] } } });
  const badLink = links[links.length - 1]!;
  const link = await env.es.get<{ filewarden: { chain: { times: number[] } } }>({ index: env.auditIndex, id: badLink._id });
  const times = link._source!.filewarden.chain.times.map((x, i) => (i === 0 ? x - 60_000 : x));
  await env.es.update({ index: env.auditIndex, id: badLink._id, doc: { filewarden: { chain: { times } } } });

  const v = await complianceJson<VerifyJson>(env, ['verify', ...from]);
  t.equal(v.r.code, 1, 'verify exits 1 when anything changed');
  const got = v.json.findings.map((f) => ({ kind: f.kind, seq: f.seq })).sort((x, y) => x.kind.localeCompare(y.kind) || (x.seq ?? 0) - (y.seq ?? 0));
  t.same(
    got,
    [
      { kind: 'bad-link', seq: badLink.first },
      { kind: 'deleted', seq: deleted[0] },
      { kind: 'deleted', seq: deleted[1] },
      { kind: 'modified', seq: modified },
      { kind: 'reordered', seq: swapped[0] },
      { kind: 'reordered', seq: swapped[1] },
    ],
    'exactly the tampered events and link, nothing else',
  );
  t.match(v.json.findings.find((f) => f.kind === 'modified')!.detail, m.id, 'the modified document is named');
  t.match(v.json.findings.find((f) => f.kind === 'reordered' && f.seq === swapped[0])!.detail, `signed as seq ${swapped[1]}`, 'a reordered event names the number it was signed at');
  t.equal(v.json.streams[0]!.intact, n - 2 - 1 - 2 - (badLink.last - badLink.first + 1), 'every other event is still intact');

  // A whole link deleted with its events: the next link no longer follows.
  const gone = links[5]!;
  await env.es.delete({ index: env.auditIndex, id: gone._id, refresh: true });
  const broken = await complianceJson<VerifyJson>(env, ['verify', ...from]);
  t.ok(
    broken.json.findings.some((f) => f.kind === 'chain-break' && f.seq === gone.last + 1),
    `deleting the link for seq ${gone.first}..${gone.last} breaks the chain at ${gone.last + 1}`,
  );
  t.ok(broken.json.findings.some((f) => f.kind === 'unchained' && f.seq === gone.first), 'and its events are reported as unchained');
  await stopService(t, indexer, 'the indexer');
});

t.test('a collector run with --no-chain is reported as unchained, not as verified', async (t) => {
  const env = pipelineEnv(t);
  const collector = await startCollector(t, env, ['--no-chain']);
  const indexer = await startIndexer(t, env);
  t.match(collector.log(), 'chain: off (--no-chain)', 'the collector says the chain is off');
  t.equal(await openWorkload(t, env.workDir, 50, 500).done, 50);
  const n = await drain(t, env, collector, indexer);
  const v = await complianceJson<VerifyJson>(env, ['verify', '--from', new Date(Date.now() - 3_600_000).toISOString()]);
  t.equal(v.r.code, 1, 'verify exits 1');
  t.same(v.json.streams, [], 'no stream can be verified');
  t.same(v.json.findings.map((f) => f.kind), ['unchained'], 'one finding: the stream is unchained');
  t.match(v.json.findings[0]!.detail, `${n} events of this stream have no chain link`);
  await stopService(t, indexer, 'the indexer');
});
