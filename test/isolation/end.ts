// The isolation guard, second half (run after the tests or a benchmark): the user's own stack holds
// exactly what it held before, and `verify` over the run's period reports no new finding.
import fs from 'node:fs';
import t from 'tap';
import { type GuardState, pinnedCaptures, releaseUserStack, stackContents, verifyFindings } from '../utils/user-stack';

const guardFile = process.env.FILEWARDEN_ISOLATION_FILE;

t.test("the run left the user's stack exactly as it was", async (t) => {
  if (!guardFile || !fs.existsSync(guardFile)) throw new Error(`no guard file ${guardFile ?? '(FILEWARDEN_ISOLATION_FILE unset)'}: the first half (test/isolation/begin.ts) did not run`);
  const g = JSON.parse(fs.readFileSync(guardFile, 'utf8')) as GuardState;
  t.teardown(async () => {
    await releaseUserStack(g);
    fs.rmSync(guardFile, { force: true }); // used once: a later run never acts on it
  });
  const after = await stackContents(g.stateDir);
  t.equal(after.clusterUuid, g.before.clusterUuid, 'the same Elasticsearch cluster');
  t.strictSame(Object.keys(after.indices), Object.keys(g.before.indices), 'no index created or deleted');
  t.strictSame(after.indices, g.before.indices, 'no document written, changed or deleted in any index');
  t.strictSame(after.redisKeys, g.before.redisKeys, 'no Redis key written or removed (queues, command queues, dedupe keys)');
  const stray = after.redisVolatile.filter((k) => !g.before.redisVolatile.includes(k));
  t.strictSame(stray, [], 'no expiring Redis key added');
  const from = new Date(Date.parse(g.begin) - 3600_000).toISOString();
  const v = await verifyFindings(g.stateDir, from, new Date().toISOString());
  t.equal(v.findings, g.findingsBefore, `verify from the hour before the run to now: no new finding (${v.findings})`);
  if (g.created) t.equal(v.findings, 0, 'and none at all on the stack the guard made');
  t.strictSame(pinnedCaptures(), g.pinsBefore, 'no capture left pinned in bpffs (every test collector ended its own)');
});
