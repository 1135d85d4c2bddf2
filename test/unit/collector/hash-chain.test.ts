// The hash chain's own promises: a digest is over the document line the collector ships, which is
// the stored document minus its position and trust verdict; a link proves its body and signer; a
// restarted collector continues its stream's chain, a new stream starts from genesis.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { HashChain, loadOrCreateHostKey } from '../../../collector/src/integrity/hash-chain';
import { checkLink, eventDigest, genesis, lineDigest } from '../../../contract/src/chain';
import { decodeDocuments, placeDocument } from '../../../contract/src/wire';
import { documentBatch, event, host } from '../../utils/wire-fixtures';

const dir = (t: Test): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-chain-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
};

t.test("an event's digest is its shipped line's, and covers every stored field but its position and trust", async (t) => {
  const d = dir(t);
  const k = loadOrCreateHostKey(d);
  const job = documentBatch([event(), event({ tid: 44 })], 7, 's', new HashChain(d, host.bootId, 's', k.privateKey, k.publicKey));
  const lines = decodeDocuments(job);
  const digests = Buffer.from(job.chain!.digests, 'base64');
  t.strictSame(lineDigest(lines[0]!), digests.subarray(0, 32), 'the link signs exactly the shipped bytes');
  const stored = JSON.parse(placeDocument(lines[0]!, 7, { status: 'signed', reason: 'ok' })) as { event: { sequence: number }; filewarden: { seq: number; trust: object }; file: { path: string } };
  t.equal(stored.event.sequence, 7);
  t.equal(stored.filewarden.seq, 7);
  t.strictSame(stored.filewarden.trust, { status: 'signed', reason: 'ok' });
  t.strictSame(eventDigest(stored, 2), digests.subarray(0, 32), 'the stored document, parsed, hashes to the signed digest');
  const moved = structuredClone(stored);
  moved.event.sequence = 99;
  moved.filewarden.seq = 99;
  t.strictSame(eventDigest(moved, 2), eventDigest(stored, 2), 'another position, the same event');
  const changed = structuredClone(stored);
  changed.file.path = '/elsewhere';
  t.not(eventDigest(changed, 2).toString('hex'), eventDigest(stored, 2).toString('hex'), 'a changed path changes the digest');
});

t.test('a link proves its head, its times and its signer', async (t) => {
  const d = dir(t);
  const k = loadOrCreateHostKey(d);
  t.ok(k.created);
  t.equal(fs.statSync(k.file).mode & 0o777, 0o600, 'the private key is 0600');
  const chain = new HashChain(d, host.bootId, 's', k.privateKey, k.publicKey);
  const l = documentBatch([event(), event({ tid: 44 })], 1, 's', chain).chain!;
  const pos = { boot: host.bootId, stream: 's', first: 1, last: 2 };
  t.equal(l.prev, genesis(host.bootId, 's'), 'the first link names the genesis value');
  t.match(checkLink(pos, l), { ok: true });
  t.match(checkLink({ ...pos, first: 2, last: 3 }, l), { ok: false, reason: /head does not match/ }, 'another position');
  t.match(checkLink(pos, { ...l, times: [l.times[0]! + 1, l.times[1]!] }), { ok: false, reason: /head does not match/ }, 'another time');
  const other = crypto.generateKeyPairSync('ed25519');
  const forged = crypto.sign(null, Buffer.from(l.head, 'hex'), other.privateKey).toString('base64');
  t.match(checkLink(pos, { ...l, sig: forged }), { ok: false, reason: /signature does not verify/ }, 'another signer');
  t.match(checkLink(pos, { ...l, digests: Buffer.alloc(32).toString('base64') }), { ok: false, reason: /wrong number of digests/ });
  const l2 = documentBatch([event({ tid: 45 })], 3, 's', chain).chain!;
  t.equal(l2.prev, l.head, 'the next link names the previous head');
});

t.test('a restarted collector continues its chain; a new stream starts again', async (t) => {
  const d = dir(t);
  const k = loadOrCreateHostKey(d);
  const l1 = documentBatch([event()], 1, 's', new HashChain(d, host.bootId, 's', k.privateKey, k.publicKey)).chain!;
  const again = loadOrCreateHostKey(d);
  t.notOk(again.created, 'the key is reused');
  const resumed = new HashChain(d, host.bootId, 's', again.privateKey, again.publicKey);
  t.equal(resumed.resumedAt, 1);
  t.equal(documentBatch([event({ tid: 50 })], 2, 's', resumed).chain!.prev, l1.head, 'the chain continues');
  const fresh = new HashChain(d, host.bootId, 'other', again.privateKey, again.publicKey);
  t.equal(documentBatch([event()], 1, 'other', fresh).chain!.prev, genesis(host.bootId, 'other'), 'a new stream starts at genesis');
  fs.writeFileSync(k.file, 'not a key');
  t.throws(() => loadOrCreateHostKey(d), { name: 'HostKeyError', message: /is not an Ed25519 private key/ });
});
