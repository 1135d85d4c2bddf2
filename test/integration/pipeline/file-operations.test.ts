// Operations other than open travel the whole pipeline like opens: a shell workload's write, creation,
// rename, mode and owner changes, links, truncation and deletions reach Elasticsearch once each,
// through the strict template, with their own fields, numbered without a gap, and `verify` finds
// every one of them intact in the signed chain.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import t from 'tap';
import { allIndexNames } from '../../utils/compliance';
import { gapReport, pipelineEnv, startCollector, startIndexer, stopService, waitQueueEmpty } from '../../utils/pipeline';
import { cli } from '../../utils/stack';

interface Doc {
  event: { action: string; outcome: string; type: string[] };
  file: { path: string; target_path?: string };
  filewarden: {
    operation: string;
    syscall: string;
    mode?: string;
    original_path?: string;
    change?: { special?: string[]; uid?: string; gid?: string; length?: string; bytes_written?: string; writes?: number };
    path: { lexical?: boolean };
  };
}

t.test('every operation of a shell workload is one searchable document, and verify finds them intact', async (t) => {
  const env = pipelineEnv(t);
  const collector = await startCollector(t, env);
  const indexer = await startIndexer(t, env);
  const w = env.workDir;
  t.teardown(() => fs.rmSync(`${w}.out`, { force: true }));
  const script = [
    'set -e', `cd "${w}"`, 'echo data > a', 'mv a b', 'chmod 4755 b', 'chown 1:2 b', 'ln b hard', 'ln -s /etc/shadow sym',
    'mkdir sub', 'truncate -s 1 b', 'rmdir sub', 'rm hard sym', 'rm -f missing', `mv b "${w}.out"`,
  ].join('\n');
  const r = spawnSync('/bin/sh', ['-c', script], { encoding: 'utf8' });
  t.equal(r.status, 0, `the workload ran: ${r.stderr}`);
  await stopService(t, collector, 'the collector');
  t.ok(await waitQueueEmpty(indexer, 60_000), 'the queue drained');
  await env.es.indices.refresh({ index: `${env.indexPrefix}-*` });
  const res = await env.es.search<Doc>({ index: `${env.indexPrefix}-*`, size: 1000, sort: [{ 'filewarden.seq': 'asc' }], query: { bool: { must_not: { term: { 'filewarden.operation': 'open' } } } } });
  const docs = res.hits.hits.map((h) => h._source!);
  t.strictSame(
    docs.map((d) => [d.filewarden.operation, d.event.action, d.event.outcome, d.file.path]),
    [
      ['modify', 'modification', 'success', `${w}/a`],
      ['rename', 'rename', 'success', `${w}/b`],
      ['chmod', 'attributes-modified', 'success', `${w}/b`],
      ['chown', 'attributes-modified', 'success', `${w}/b`],
      ['link', 'creation', 'success', `${w}/hard`],
      ['symlink', 'creation', 'success', `${w}/sym`],
      ['mkdir', 'creation', 'success', `${w}/sub`],
      ['truncate', 'truncation', 'success', `${w}/b`],
      ['rmdir', 'deletion', 'success', `${w}/sub`],
      ['unlink', 'deletion', 'success', `${w}/hard`],
      ['unlink', 'deletion', 'success', `${w}/sym`],
      ['unlink', 'deletion', 'failure', `${w}/missing`],
      ['rename', 'rename', 'success', `${w}.out`],
    ],
    'each operation once, in order, with its action, outcome and kernel path (a rename out of the directory is kept by its old name)',
  );
  const by = (op: string) => docs.filter((d) => d.filewarden.operation === op);
  t.strictSame(by('rename').map((d) => d.filewarden.original_path), [`${w}/a`, `${w}/b`], 'renames carry the old path');
  t.strictSame([by('chmod')[0]?.filewarden.mode, by('chmod')[0]?.filewarden.change?.special], ['04755', ['setuid']], 'chmod: the new mode, setuid');
  t.strictSame([by('chown')[0]?.filewarden.change?.uid, by('chown')[0]?.filewarden.change?.gid], ['1', '2'], 'chown: the new owner');
  t.strictSame([by('link')[0]?.file.target_path, by('symlink')[0]?.file.target_path], [`${w}/b`, '/etc/shadow'], 'link and symlink targets');
  t.strictSame(by('truncate')[0]?.filewarden.change?.length, '1', 'truncate: the length');
  t.strictSame([by('modify')[0]?.filewarden.change?.bytes_written, by('modify')[0]?.filewarden.change?.writes], ['5', 1], 'echo data > a: one write session of 5 bytes');

  const gaps = await gapReport(env);
  t.equal(gaps.code, 0, 'no sequence number is missing');
  const v = await cli(['verify', '--json', '--from', new Date(Date.now() - 3_600_000).toISOString(), ...allIndexNames(env)], { FILEWARDEN_ELASTICSEARCH_URL: env.esUrl });
  const j = JSON.parse(v.stdout) as { findings: unknown[]; streams: { intact: number }[] };
  t.equal(v.code, 0, 'verify exits 0');
  t.strictSame(j.findings, [], 'no finding');
  const total = (await env.es.count({ index: `${env.indexPrefix}-*` })).count;
  t.strictSame(j.streams.map((s) => s.intact), [total], 'every document, opens and operations, is intact in the chain');
  await stopService(t, indexer, 'the indexer');
});
