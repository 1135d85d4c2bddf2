// The isolation guard, first half (run before the tests or a benchmark, never in the main suite):
// records what the user's own stack holds. On a fresh machine it first makes one that looks used
// (see seedUserStack), so the guard has real events, alerts and chain links to watch.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { cli } from '../utils/stack';
import { type GuardState, makeMarkedStateDir, pinnedCaptures, releaseUserStack, seedUserStack, stackContents, stackRunning, userEnv, userStateDir, verifyFindings } from '../utils/user-stack';

const guardFile = process.env.FILEWARDEN_ISOLATION_FILE;
const stateDir = userStateDir();

t.test("the user's stack is recorded before the run", async (t) => {
  if (!guardFile) throw new Error('FILEWARDEN_ISOLATION_FILE must name the guard file (scripts/test.sh and scripts/bench.sh set it)');
  if (path.resolve(process.env.FILEWARDEN_STATE_DIR ?? '') === stateDir) throw new Error(`the run would use the user's own state directory ${stateDir}: set FILEWARDEN_STATE_DIR to its own`);
  if (fs.existsSync(guardFile)) throw new Error(`${guardFile} is left from another run: remove it (scripts/test.sh does) before the guard starts`);
  const runId = crypto.randomBytes(8).toString('hex');
  const created = !fs.existsSync(stateDir);
  let started = false;
  // Whatever fails from here on, a stack this half started is stopped and a directory it made goes.
  let release = true;
  t.teardown(async () => {
    if (release && (created || started)) await releaseUserStack({ runId, stateDir, created, started });
  });
  if (created) {
    t.comment(`no stack in ${stateDir}: making one that looks used (filewarden up, a shadow read); it is removed afterwards`);
    makeMarkedStateDir(stateDir, runId);
    started = true;
    await seedUserStack(stateDir, (l) => t.comment(l));
  } else if (!(await stackRunning(stateDir))) {
    t.comment(`the stack in ${stateDir} is stopped: starting it to watch it (stopped again afterwards)`);
    started = true;
    const r = await cli(['stack', 'up'], userEnv(stateDir));
    if (r.code !== 0) throw new Error(`stack up in ${stateDir}: ${r.stderr.trim()}`);
  }
  const begin = new Date();
  const before = await stackContents(stateDir);
  const v = await verifyFindings(stateDir, new Date(begin.getTime() - 3600_000).toISOString(), begin.toISOString());
  if (created) {
    t.ok(Object.keys(before.indices).some((i) => i.startsWith('filewarden-events-')), 'the seeded stack holds events');
    t.ok(before.indices['filewarden-alerts']?.docs > 0, 'and an alert');
    t.ok(v.streams > 0, 'and signed chain links');
    t.equal(v.findings, 0, 'which verify finds intact');
  }
  const g: GuardState = { runId, stateDir, created, started, begin: begin.toISOString(), before, findingsBefore: v.findings, pinsBefore: pinnedCaptures() };
  fs.mkdirSync(path.dirname(guardFile), { recursive: true });
  fs.writeFileSync(guardFile, JSON.stringify(g, null, 2));
  t.strictSame((JSON.parse(fs.readFileSync(guardFile, 'utf8')) as GuardState).before, before, `the record is in ${guardFile}`);
  release = false; // the second half (end.ts) releases it now
  t.comment(`${stateDir}: ${Object.keys(before.indices).length} indices, ${Object.keys(before.redisKeys).length} Redis keys, ${v.streams} chain streams in the last hour`);
});
