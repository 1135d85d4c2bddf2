// The trust primitives: which key files enroll which host (and that a misnamed one is an error,
// never skipped), signed control records, and the batch verdicts the indexer acts on.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { HashChain } from '../../../collector/src/integrity/hash-chain';
import { canonicalize } from '../../../contract/src/canonical-json';
import { checkRecord, eventDigest, keyId, signRecord } from '../../../contract/src/chain';
import { type BatchJobData, decodeDocuments, placeDocument } from '../../../contract/src/wire';
import { judgeBatch, judgeLink, judgeRecord } from '../../../indexer/src/integrity/source-trust';
import { EnrolledKeys, loadTrustedKeys } from '../../../indexer/src/integrity/trusted-keys';
import { InvalidJobError, validateJob } from '../../../indexer/src/worker/job-schema';
import { isTransient } from '../../../indexer/src/worker/transient';
import { tempDir } from '../../utils/kernel';
import { documentBatch, event, host } from '../../utils/wire-fixtures';

const pem = (k: crypto.KeyObject): string => k.export({ type: 'spki', format: 'pem' }).toString();
const pair = (): { privateKey: crypto.KeyObject; publicKey: crypto.KeyObject } => crypto.generateKeyPairSync('ed25519');

t.test('trusted keys: <host>.pub and <host>~<label>.pub enroll; any other name is an error', async (t) => {
  const dir = tempDir(t, 'fw-trust-');
  const a = pair();
  const b = pair();
  fs.writeFileSync(path.join(dir, 'web1.pub'), pem(a.publicKey));
  fs.writeFileSync(path.join(dir, 'web1~2026-rotation.pub'), pem(b.publicKey));
  fs.writeFileSync(path.join(dir, 'db.example.com.pub'), pem(b.publicKey));
  t.strictSame(
    [...loadTrustedKeys([dir]).entries()].map(([h, s]) => [h, [...s].sort()]),
    [
      ['db.example.com', [keyId(b.publicKey)]],
      ['web1', [keyId(a.publicKey), keyId(b.publicKey)].sort()],
    ],
  );
  fs.writeFileSync(path.join(dir, 'web2.key'), pem(a.publicKey));
  t.throws(() => loadTrustedKeys([dir]), { name: 'TrustedKeysError', message: /web2\.key: the file must be named <host>\.pub/ }, 'a misnamed file in a directory is refused');
  t.throws(() => loadTrustedKeys([path.join(dir, 'web2.key')]), { name: 'TrustedKeysError', message: /must be named <host>\.pub/ }, 'and so is one given by name');
  fs.rmSync(path.join(dir, 'web2.key'));
  fs.writeFileSync(path.join(dir, 'web3.pub'), 'not a key');
  t.throws(() => loadTrustedKeys([dir]), { message: /web3\.pub: not a readable Ed25519 public key/ });
  fs.writeFileSync(path.join(dir, 'web3.pub'), pem(crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey));
  t.throws(() => loadTrustedKeys([dir]), { message: /not Ed25519/ }, 'only Ed25519 keys');
  t.throws(() => loadTrustedKeys([path.join(dir, 'missing')]), { message: /no such file or directory/ });
});

t.test('an enrolled-keys directory is read again: a host enrolled or withdrawn counts without a restart', async (t) => {
  const dir = tempDir(t, 'fw-trust-');
  const a = pair();
  const keys = new EnrolledKeys([dir], () => undefined, 0);
  t.equal(keys.check('h1', keyId(a.publicKey)), 'unenrolled-host');
  fs.writeFileSync(path.join(dir, 'h1.pub'), pem(a.publicKey));
  t.equal(keys.check('h1', keyId(a.publicKey)), 'enrolled');
  t.equal(keys.check('h1', keyId(pair().publicKey)), 'unenrolled-key');
  fs.rmSync(path.join(dir, 'h1.pub'));
  t.equal(keys.check('h1', keyId(a.publicKey)), 'unenrolled-host', 'a deleted key is withdrawn');
});

t.test('commands reach only the machine enrolled for the signer (<host>.id)', async (t) => {
  const dir = tempDir(t, 'fw-trust-');
  const id = 'a'.repeat(32);
  fs.writeFileSync(path.join(dir, 'h1.pub'), pem(pair().publicKey));
  const keys = new EnrolledKeys([dir], () => undefined, 0);
  t.match(keys.hostIdCheck('h1', id), /no machine id is enrolled for host "h1"/);
  fs.writeFileSync(path.join(dir, 'h1.id'), `${id}\n`);
  t.equal(keys.hostIdCheck('h1', id), undefined);
  t.match(keys.hostIdCheck('h1', 'b'.repeat(32)), /names host.id b{32}, but host "h1" is enrolled with a{32}/);
  t.match(keys.hostIdCheck('h1', undefined), /names host.id \(none\)/);
  fs.writeFileSync(path.join(dir, 'h2.id'), 'not-an-id\n');
  t.throws(() => loadTrustedKeys([dir]), { message: /h2\.id: not a machine id/ });
});

t.test('signed control records: any change to a signed field breaks the signature', async (t) => {
  const k = pair();
  const rec = signRecord({ v: 1 as const, kind: 'checkpoint' as const, boot: 'b', stream: 's', assigned: 10, host: 'h' }, k.privateKey, k.publicKey);
  t.strictSame(checkRecord(rec), { ok: true, key: keyId(k.publicKey) });
  t.match(checkRecord({ ...rec, assigned: 1e12 }), { ok: false, reason: /does not verify/ });
  t.match(checkRecord({ ...rec, host: 'other' }), { ok: false, reason: /does not verify/ });
  t.match(checkRecord({ ...rec, sig: { ...rec.sig, pub: pem(pair().publicKey) } }), { ok: false, reason: /key id does not match/ });
  t.strictSame(checkRecord({ assigned: 1 } as object), { ok: false, reason: 'unsigned' });
  const dir = tempDir(t, 'fw-trust-');
  fs.writeFileSync(path.join(dir, 'h.pub'), pem(k.publicKey));
  const enrolled = new EnrolledKeys([dir], () => undefined);
  t.equal(judgeRecord(rec, 'h', enrolled).status, 'verified');
  t.equal(judgeRecord(rec, 'other', enrolled).reason, 'unenrolled-host', 'signed, but not by a key enrolled for the host it names');
});

t.test('batch verdicts: unsigned, bad link, unenrolled, altered, verified', async (t) => {
  const k = pair();
  const dir = tempDir(t, 'fw-trust-');
  fs.writeFileSync(path.join(dir, `${host.name}.pub`), pem(k.publicKey));
  const enrolled = new EnrolledKeys([dir], () => undefined);
  const events = [event(), event({ tid: 44 })];
  const job: BatchJobData = documentBatch(events, 1, 'st');
  const docs = decodeDocuments(job);
  t.equal(judgeBatch(job, host.name, docs, enrolled).reason, 'unsigned');
  job.chain = documentBatch(events, 1, 'st', new HashChain(tempDir(t, 'fw-chain-'), host.bootId, 'st', k.privateKey, k.publicKey)).chain;
  t.strictSame(judgeLink(job, host.name, enrolled), { status: 'signed', reason: 'ok', detail: `signed by enrolled key ${keyId(k.publicKey)}`, key: keyId(k.publicKey) }, 'the link alone: signed');
  t.strictSame(judgeBatch(job, host.name, docs, enrolled), { status: 'verified', reason: 'ok', detail: `signed by enrolled key ${keyId(k.publicKey)}; every event matches its signed digest`, key: keyId(k.publicKey) }, 'with the digests: verified');
  t.equal(judgeBatch(job, 'another-host', docs, enrolled).reason, 'unenrolled-host');
  t.equal(judgeBatch({ ...job, first: 2, last: 3 }, host.name, docs, enrolled).reason, 'bad-signature', 'a link moved to other numbers');
  const altered = docs.map((d, i) => {
    if (i !== 1) return d;
    const doc = JSON.parse(d) as { process: { pid: number } };
    doc.process.pid = 1;
    return canonicalize(doc);
  });
  t.match(judgeBatch(job, host.name, altered, enrolled), { reason: 'digest-mismatch', detail: /event seq 2 / });
  // The indexer's verdict and the position are outside the digest: verify recomputes the same digest from _source.
  const stored = JSON.parse(placeDocument(docs[0]!, 1, { status: 'verified', reason: 'ok' })) as object;
  t.ok(eventDigest(stored, 2).equals(Buffer.from(job.chain!.digests, 'base64').subarray(0, 32)));
});

t.test('the job schema refuses malformed shapes and the transient test names only availability errors', async (t) => {
  const ok = documentBatch([event()], 1, 's');
  t.equal(validateJob(ok), ok);
  for (const bad of [null, [], 7, { ...ok, first: 0 }, { ...ok, first: 2, last: 1 }, { ...ok, z: 'not base64!' }, { ...ok, extra: 1 }, { v: 1, kind: 'audit', id: 'x' }]) {
    t.throws(() => validateJob(bad), InvalidJobError, JSON.stringify(bad)?.slice(0, 60));
  }
  t.ok(isTransient(Object.assign(new Error('x'), { name: 'ConnectionError' })));
  t.ok(isTransient(Object.assign(new Error('x'), { name: 'ResponseError', meta: { statusCode: 503 } })));
  t.ok(isTransient(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })));
  t.notOk(isTransient(Object.assign(new Error('x'), { name: 'ResponseError', meta: { statusCode: 400 } })));
  t.notOk(isTransient(new TypeError("Cannot read properties of null (reading 'q')")));
  t.notOk(isTransient(new SyntaxError('Cannot convert abc to a BigInt')));
});
