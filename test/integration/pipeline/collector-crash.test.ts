// Fault 2: the collector is killed with SIGKILL mid-stream and restarted. Every event it had
// acknowledged (queued or spooled) is in Elasticsearch, and the sequence numbers it had given out
// but not acknowledged are exactly the gaps that the restart and `filewarden gaps` report. Here the
// capture is not pinned (--no-pin, or no bpffs); collector-crash-pinned.test.ts is the default.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { afterCollectorCrash, gapReport, openWorkload, pipelineEnv, sequenceState, startCollector, startIndexer, stopService, waitFor } from '../../utils/pipeline';

t.test('a collector killed with SIGKILL mid-stream (capture not pinned): acknowledged events all arrive, lost ones are reported exactly', async (t) => {
  const env = pipelineEnv(t);
  let collector = await startCollector(t, env, ['--no-pin']);
  const indexer = await startIndexer(t, env);
  const N = 20_000;
  const work = openWorkload(t, env.workDir, N, 4000);
  t.ok(await waitFor(async () => ((await collector.metrics()).get('filewarden_events_queued_total') ?? 0) >= 4000, 30_000, 50), 'the collector has queued some events');
  collector.proc.kill('SIGKILL');
  t.equal(await collector.exited, 'SIGKILL', 'the collector died by SIGKILL');
  const atKill = sequenceState(env);
  t.ok(atKill.acked >= 4000 && atKill.assigned >= atKill.acked, `at the kill: seq assigned ${atKill.assigned}, acknowledged ${atKill.acked}`);

  collector = await startCollector(t, env, ['--no-pin']);
  t.match(collector.log(), 'capture not pinned: --no-pin; events the kernel holds when the collector dies, and opens while it is down, are lost uncounted', 'the collector says its capture ends with it');
  const lost = atKill.assigned - atKill.acked;
  if (lost > 0) t.match(collector.log(), `stopped without acknowledging seq ${atKill.acked + 1}..${atKill.assigned} (${lost} events lost)`, 'the restart names the unacknowledged range');
  else t.match(collector.log(), `continuing boot`, 'nothing was outstanding: the restart continues the stream');
  t.equal(sequenceState(env).stream, atKill.stream, 'the restarted collector continues the same sequence stream');
  t.equal(await work.done, N, `the workload made its ${N} opens`);
  // Opens surely made after the restart: the first workload may be over before the restarted
  // collector has attached (its probe load takes a second or more on a busy machine).
  const after = path.join(env.workDir, 'after-restart');
  fs.mkdirSync(after);
  t.equal(await openWorkload(t, after, 500, 2000).done, 500, 'and 500 more after the restart');
  await stopService(t, collector, 'the restarted collector');
  const { docs, missing, last } = await afterCollectorCrash(t, env, indexer, atKill);
  t.comment(`kill: assigned ${atKill.assigned}, acked ${atKill.acked}; at the end: ${docs.length} indexed of seq 1..${last}, ${missing.length} missing`);

  const gaps = await gapReport(env);
  const report = gaps.report;
  t.equal(report.length, 1, 'one stream in the report');
  const reported: number[] = [];
  for (const r of report[0].missing) for (let q = r.from; q <= r.to; q++) reported.push(q);
  t.same(reported, missing, 'the gap report lists exactly the missing sequence numbers');
  t.equal(report[0].last, last, 'up to the last number given out');
  t.equal(gaps.code, missing.length > 0 ? 1 : 0, 'gaps exits 1 exactly when something is missing');
  await stopService(t, indexer, 'the indexer');
});
