// The batch builder's promises: every document built once, the line shipped is the line hashed,
// and a batch's text is counted, so the collector sends it before the indexer would have to refuse
// it (BATCH_TEXT_BUDGET), however long its processes' argument lists are.
import t from 'tap';
import { BatchBuilder } from '../../../collector/src/batch/batch-builder';
import { BATCH_TEXT_BUDGET, type BatchJobData, decodeDocuments, MAX_BATCH_JSON_BYTES } from '../../../contract/src/wire';
import { enrichment, event, host } from '../../utils/wire-fixtures';

t.test('a batch of events with long argument lists stays within what the indexer takes', async (t) => {
  // 60 KB of arguments, as a long Java class path gives: 2,000 such events would be 120 MB.
  const args = ['java', '-cp', 'x'.repeat(60_000)];
  const b = new BatchBuilder(host, 's', 'x86_64', { ...enrichment, proc: () => ({ executable: '/usr/bin/java', args }) });
  const jobs: BatchJobData[] = [];
  let seq = 1;
  for (let i = 0; i < 2000; i++) {
    b.add(event({ tid: i + 1 }), seq++);
    // What the collector does after each event (collector-agent.ts onEvents).
    if (b.size >= 2000 || b.textLength >= BATCH_TEXT_BUDGET) jobs.push(b.take()!);
  }
  if (b.size) jobs.push(b.take()!);
  t.ok(jobs.length > 1, `sent as ${jobs.length} batches`);
  let events = 0;
  for (const j of jobs) {
    const lines = decodeDocuments(j);
    const bytes = lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
    t.ok(bytes < MAX_BATCH_JSON_BYTES, `batch ${j.first}..${j.last}: ${bytes} bytes inflated, under the indexer's ${MAX_BATCH_JSON_BYTES}`);
    events += lines.length;
  }
  t.equal(events, 2000, 'every event in exactly one batch');
  t.strictSame(jobs.map((j) => [j.first, j.last]).flat().filter((_, i, a) => i % 2 === 1 && i + 1 < a.length).map((last, k) => jobs[k + 1]!.first - last), Array(jobs.length - 1).fill(1), 'numbered without gap or overlap');
  t.equal(b.textLength, 0, 'a taken batch holds no text');
});
