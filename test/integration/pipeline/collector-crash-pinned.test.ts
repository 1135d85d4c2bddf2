// Fault 5: the collector's drain is stalled (SIGSTOP) while its ring buffer fills, then it is killed
// with SIGKILL, and files keep being opened while no collector runs. The capture is pinned in bpffs,
// so it records on; the restarted collector takes it over. Every open made before, during and after
// the outage is in Elasticsearch, or its loss is counted to the event: the sequence numbers the dead
// collector gave out but never acknowledged (named at the restart and by `gaps`), plus what the
// kernel counted as dropped. Nothing is silent.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { pinDirOf } from '../../../collector/src/capture/pinned-capture';
import { afterCollectorCrash, gapReport, openWorkload, pipelineEnv, sequenceState, startCollector, startIndexer, stopService, until, waitFor } from '../../utils/pipeline';

const filesIn = (dir: string): number => fs.readdirSync(dir).length;

t.test('a collector stalled then killed with SIGKILL, files opened while it is down: every open is delivered or counted lost, none silently', async (t) => {
  const env = pipelineEnv(t);
  const state = path.join(env.stateDir, 'collector');
  const pins = pinDirOf(state);
  let collector = await startCollector(t, env);
  t.match(collector.log(), `capture pinned at ${pins}`, 'the collector pins its capture');
  const captureId = (JSON.parse(fs.readFileSync(path.join(state, 'capture.json'), 'utf8')) as { captureId: string }).captureId;
  const indexer = await startIndexer(t, env);
  const N = 20_000;
  const work = openWorkload(t, env.workDir, N, 4000);
  t.ok(await waitFor(async () => ((await collector.metrics()).get('filewarden_events_queued_total') ?? 0) >= 2000, 30_000, 50), 'the collector has queued some events');

  // Stalled: its drain thread stops with records in flight, and the ring buffer fills behind it.
  collector.proc.kill('SIGSTOP');
  const atStop = filesIn(env.workDir);
  await until('2000 opens while the collector is stopped', () => (filesIn(env.workDir) >= atStop + 2000 ? true : undefined));
  collector.proc.kill('SIGKILL');
  t.equal(await collector.exited, 'SIGKILL', 'the collector died by SIGKILL');
  const atKill = sequenceState(env);
  const killedAt = filesIn(env.workDir);
  t.ok(fs.existsSync(path.join(pins, 'links')), 'its capture is still pinned');
  await until('2000 opens while no collector runs', () => (filesIn(env.workDir) >= killedAt + 2000 ? true : undefined));

  collector = await startCollector(t, env);
  const restartedAt = filesIn(env.workDir);
  t.match(collector.log(), `took over the capture pinned at ${pins}`, 'the restarted collector takes the pinned capture over');
  const lost = atKill.assigned - atKill.acked;
  if (lost > 0) t.match(collector.log(), `stopped without acknowledging seq ${atKill.acked + 1}..${atKill.assigned} (${lost} events lost)`, 'and names the numbers the dead one never acknowledged');
  t.equal(await work.done, N, `the workload made its ${N} opens`);
  const after = path.join(env.workDir, 'after-restart');
  fs.mkdirSync(after);
  t.equal(await openWorkload(t, after, 500, 2000).done, 500, 'and 500 more after the restart');
  await stopService(t, collector, 'the restarted collector');
  t.notOk(fs.existsSync(pins), 'a clean stop ends the pinned capture and removes its pins');
  t.notOk(fs.existsSync(path.join(state, 'capture.json')), 'and its record');
  const dropped = Number(/kernel dropped (\d+)/.exec(collector.log())?.[1]);
  t.ok(Number.isInteger(dropped), `the kernel's drop count carries on across both collectors: ${dropped}`);
  t.comment(`opens with no collector reading: ${restartedAt - atStop} (stopped at ${atStop}, killed at ${killedAt}, restarted at ${restartedAt})`);

  const { ours, missing } = await afterCollectorCrash(t, env, indexer, atKill);
  // N + 500 files, and the after-restart directory (a mkdir): each one event.
  t.equal(ours.length + missing.length + dropped, N + 500 + 1, `every event is delivered (${ours.length}), named lost by number (${missing.length}) or counted dropped by the kernel (${dropped})`);
  const outage = ours.filter((d) => {
    const i = /\/f(\d+)$/.exec(d.path);
    return i !== null && !d.path.includes('/after-restart/') && Number(i[1]) >= atStop && Number(i[1]) < restartedAt;
  }).length;
  t.ok(outage >= restartedAt - atStop - missing.length - dropped, `the ${restartedAt - atStop} opens made while no collector read are delivered (${outage}), but for those counted lost`);

  const gaps = await gapReport(env);
  const reported: number[] = [];
  for (const r of gaps.report[0]?.missing ?? []) for (let q = r.from; q <= r.to; q++) reported.push(q);
  t.strictSame(reported, missing, 'the gap report lists exactly the missing sequence numbers');
  await env.es.indices.refresh({ index: env.checkpointIndex });
  const runs = await env.es.search({ index: env.checkpointIndex, size: 0, aggs: { run: { terms: { field: 'filewarden.heartbeat.run' } } } });
  t.strictSame(
    ((runs.aggregations?.run as { buckets: { key: string }[] }).buckets ?? []).map((b) => b.key),
    [captureId],
    "both collectors' heartbeats carry the capture's counters under its one id, so the report counts the kernel's drops once",
  );
  await stopService(t, indexer, 'the indexer');
});

t.test('a collector killed with SIGKILL and restarted with other options: the pinned capture is read to its end first, nothing silent', async (t) => {
  const env = pipelineEnv(t);
  const state = path.join(env.stateDir, 'collector');
  let collector = await startCollector(t, env);
  const indexer = await startIndexer(t, env);
  const N = 6000;
  const work = openWorkload(t, env.workDir, N, 3000);
  t.ok(await waitFor(async () => ((await collector.metrics()).get('filewarden_events_queued_total') ?? 0) >= 500, 30_000, 50), 'the collector has queued some events');
  collector.proc.kill('SIGKILL');
  await collector.exited;
  const atKill = sequenceState(env);
  t.equal(await work.done, N, `the workload made its ${N} opens, most with no collector`);
  // Another --ops: the old capture cannot be taken over, so it is read to its end, then ended.
  collector = await startCollector(t, env, ['--ops', 'open,unlink']);
  t.match(collector.log(), /the capture pinned at \S+ since \S+ ran with other options: read to its end \(\d+ events\) and ended/, 'the restart reads the old capture to its end and ends it');
  t.match(collector.log(), `capture pinned at ${pinDirOf(state)}`, 'then pins its own');
  await stopService(t, collector, 'the restarted collector');
  t.notOk(fs.existsSync(pinDirOf(state)), 'a clean stop removes the pins');
  const { ours, missing } = await afterCollectorCrash(t, env, indexer, atKill);
  const dropped = Number(/kernel dropped (\d+)/.exec(collector.log())?.[1]);
  // The old capture's drops went out in a heartbeat under its id: read them from the checkpoints.
  await env.es.indices.refresh({ index: env.checkpointIndex });
  const hb = await env.es.search({ index: env.checkpointIndex, size: 0, aggs: { run: { terms: { field: 'filewarden.heartbeat.run' }, aggs: { k: { max: { field: 'filewarden.heartbeat.kernel_dropped' } } } } } });
  const kernelDropped = ((hb.aggregations?.run as { buckets: { k: { value: number } }[] }).buckets ?? []).reduce((n, b) => n + b.k.value, 0);
  t.ok(kernelDropped >= dropped, `kernel drops over both captures: ${kernelDropped}`);
  t.equal(ours.length + missing.length + kernelDropped, N, `every open is delivered (${ours.length}), named lost (${missing.length}) or counted dropped (${kernelDropped})`);
  await stopService(t, indexer, 'the indexer');
});
