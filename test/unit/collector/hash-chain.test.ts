// The hash chain's own promises: a digest is over the stored document minus its position; a link
// proves its body and signer; a restarted collector continues its stream's chain, a new stream
// starts from genesis.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { canonicalJson, checkLink, eventDigest, genesis, HashChain, loadOrCreateHostKey } from '../../../collector/src/integrity/hash-chain';
import { toDocument } from '../../../collector/src/format/event-document';
import { batchOf, event, host } from '../../utils/wire-fixtures';

const dir = (t: Test): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-chain-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
};

t.test('canonical JSON sorts keys at every level and drops undefined', async (t) => {
  t.equal(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } }), '{"a":{"d":[1,{"y":2,"z":1}]},"b":1}');
  t.equal(canonicalJson({ a: 1, b: 2 }), canonicalJson({ b: 2, a: 1 }));
});

t.test("an event's digest covers every stored field but its sequence number", async (t) => {
  const b = batchOf([event(), event({ tid: 44 })], 7);
  const doc = toDocument(b, 's', b.events[0]!, 'x').doc;
  const moved = structuredClone(doc);
  moved.event.sequence = 99;
  moved.filewarden.seq = 99;
  t.same(eventDigest(moved), eventDigest(doc), 'another position, the same event');
  const changed = structuredClone(doc);
  changed.file.path = '/elsewhere';
  t.not(eventDigest(changed).toString('hex'), eventDigest(doc).toString('hex'), 'a changed path changes the digest');
  const roundTrip = JSON.parse(JSON.stringify(doc)) as object;
  t.same(eventDigest(roundTrip), eventDigest(doc), 'the document as Elasticsearch returns it hashes the same');
});

t.test('a link proves its head, its times and its signer', async (t) => {
  const d = dir(t);
  const k = loadOrCreateHostKey(d);
  t.ok(k.created);
  t.equal(fs.statSync(k.file).mode & 0o777, 0o600, 'the private key is 0600');
  const chain = new HashChain(d, host.bootId, 's', k.privateKey, k.publicKey);
  const b = batchOf([event(), event({ tid: 44 })], 1);
  const l = chain.link(b, 's');
  const pos = { boot: host.bootId, stream: 's', first: 1, last: 2 };
  t.equal(l.prev, genesis(host.bootId, 's'), 'the first link names the genesis value');
  t.match(checkLink(pos, l), { ok: true });
  t.match(checkLink({ ...pos, first: 2, last: 3 }, l), { ok: false, reason: /head does not match/ }, 'another position');
  t.match(checkLink(pos, { ...l, times: [l.times[0]! + 1, l.times[1]!] }), { ok: false, reason: /head does not match/ }, 'another time');
  const other = crypto.generateKeyPairSync('ed25519');
  const forged = crypto.sign(null, Buffer.from(l.head, 'hex'), other.privateKey).toString('base64');
  t.match(checkLink(pos, { ...l, sig: forged }), { ok: false, reason: /signature does not verify/ }, 'another signer');
  t.match(checkLink(pos, { ...l, digests: Buffer.alloc(32).toString('base64') }), { ok: false, reason: /wrong number of digests/ });
  const l2 = chain.link(batchOf([event({ tid: 45 })], 3), 's');
  t.equal(l2.prev, l.head, 'the next link names the previous head');
});

t.test('a restarted collector continues its chain; a new stream starts again', async (t) => {
  const d = dir(t);
  const k = loadOrCreateHostKey(d);
  const l1 = new HashChain(d, host.bootId, 's', k.privateKey, k.publicKey).link(batchOf([event()], 1), 's');
  const again = loadOrCreateHostKey(d);
  t.notOk(again.created, 'the key is reused');
  const resumed = new HashChain(d, host.bootId, 's', again.privateKey, again.publicKey);
  t.equal(resumed.resumedAt, 1);
  t.equal(resumed.link(batchOf([event({ tid: 50 })], 2), 's').prev, l1.head, 'the chain continues');
  const fresh = new HashChain(d, host.bootId, 'other', again.privateKey, again.publicKey);
  t.equal(fresh.link(batchOf([event()], 1), 'other').prev, genesis(host.bootId, 'other'), 'a new stream starts at genesis');
  fs.writeFileSync(k.file, 'not a key');
  t.throws(() => loadOrCreateHostKey(d), { name: 'HostKeyError', message: /is not an Ed25519 private key/ });
});
