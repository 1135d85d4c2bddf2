// The decoder reads exactly the layout the addon reports: a record packed at the addon's offsets
// decodes field for field, and malformed batches are refused instead of guessed at.
import t from 'tap';
import { fromWire, toWire } from '../../../contract/src/wire-v1';
import { DecodeError, OpenEventDecoder } from '../../../collector/src/decode/open-event';
import type { CapturedEvent } from '../../../contract/src/event';
import { toEcs } from '../../../contract/src/event-document';
import { native } from '../../../collector/src/probe/native';

const layout = native().layout();
const { header: h, record: o, enums } = layout;

/** A record whose path is `name`; with `asPassed`, a kernel-resolved path with the name as passed after
 * it; with `fsPath`, the filesystem-relative walk after that (another mount namespace or chroot). */
function record(name: Buffer, flags = 0, asPassed?: Buffer, fsPath?: Buffer): Buffer {
  const tail = (asPassed?.length ?? 0) + (fsPath?.length ?? 0);
  const size = Math.ceil((layout.recordFixedSize + name.length + tail) / layout.recordAlign) * layout.recordAlign;
  const b = Buffer.alloc(size);
  b.writeUInt16LE(enums.eventType.open, h.type);
  b.writeUInt16LE(size, h.size);
  b.writeUInt32LE(1, h.cpu);
  b.writeBigUInt64LE(123456789012345n, h.ts_ns);
  b.writeUInt32LE(4242, o.pid);
  b.writeUInt32LE(4243, o.tid);
  b.writeUInt32LE(1, o.ppid);
  b.writeUInt32LE(1000, o.uid);
  b.writeUInt32LE(1001, o.gid);
  b.writeUInt32LE(0, o.euid);
  b.writeBigUInt64LE(77n, o.cgroup_id);
  b.writeUInt32LE(4026531841, o.mntns_id);
  b.writeInt32LE(-100, o.dirfd);
  b.writeBigInt64LE(-13n, o.ret);
  b.writeBigUInt64LE(99n, o.ino);
  b.writeUInt32LE(0x800001, o.dev);
  b.writeUInt32LE(0o1101, o.open_flags);
  b.writeUInt32LE(0o640, o.mode);
  b.writeUInt32LE(2, o.f_mode);
  b.writeUInt8(enums.hook.tracepoint, o.hook);
  b.writeUInt8(enums.action.allow, o.action);
  b.writeUInt8(enums.syscall.creat, o.syscall);
  b.writeUInt8(asPassed ? enums.pathKind.resolved : enums.pathKind.asPassed, o.path_kind);
  b.writeUInt16LE(flags, o.flags);
  b.writeUInt32LE(name.length, o.path_len);
  b.writeUInt16LE(asPassed?.length ?? 0, o.name_len);
  b.writeUInt16LE(fsPath?.length ?? 0, o.host_len);
  b.writeUInt32LE(flags & enums.flag.pathTruncated ? 0 : name.length, o.path_orig_len);
  b.write('cat', o.comm);
  name.copy(b, o.path);
  asPassed?.copy(b, o.path + name.length);
  fsPath?.copy(b, o.path + name.length + (asPassed?.length ?? 0));
  return b;
}

t.test('the layout is self-consistent: fields in bounds, the name last', async (t) => {
  t.equal(o.path, layout.recordFixedSize, 'the name starts right after the fixed part');
  t.equal(o.name_len, o.flags + 2, 'name_len took the padding after flags');
  t.equal(enums.flag.pathLexical, 1 << 8, 'flags are appended, never renumbered');
  for (const [k, off] of Object.entries(o)) t.ok(off >= layout.headerSize && off <= layout.recordFixedSize, `${k} in bounds`);
  t.equal(layout.recordFixedSize % layout.recordAlign, 0);
});

t.test('a packed record decodes field for field, name bytes exact', async (t) => {
  const name = Buffer.from([0x2f, 0x74, 0xff, 0x0a, 0x78]); // "/t\xff\nx": invalid UTF-8 and a newline
  const [e, ...rest] = new OpenEventDecoder(layout).decodeBatch(Buffer.concat([record(name), record(Buffer.from('/b'))]));
  t.equal(rest.length, 1);
  t.same(
    { ...e, path: e!.path.toString('hex') },
    {
      tsNs: 123456789012345n, cpu: 1, pid: 4242, tid: 4243, ppid: 1, uid: 1000, gid: 1001, euid: 0, cgroupId: 77n,
      mntnsId: 4026531841, dirfd: -100, ret: -13, ino: 99n, dev: 0x800001, openFlags: 0o1101, mode: 0o640, fMode: 2,
      hook: 'tracepoint', action: 'allow', syscall: 'creat', pathResolved: false, path: name.toString('hex'),
      pathOrigLen: 5, pathTruncated: false, pathTail: false, pathUnreadable: false, pathUnjudged: false, retUnknown: false,
      hasFile: false, denyAsKill: false, killTarget: false, pathLexical: false, comm: 'cat',
      op: 'open', dirfd2: 0, opFlags: 0, newUid: 0, newGid: 0, length: 0n,
    },
  );
});

/** An operation's record: `path` (resolved, the name as passed after it) and a second name after that. */
function opRecord(op: keyof typeof enums.op, syscall: keyof typeof enums.syscall, path: Buffer, asPassed: Buffer, aux: Buffer, auxKind: keyof typeof enums.auxKind, auxName?: Buffer, flags = 0): Buffer {
  const base = record(path, flags, asPassed);
  const size = Math.ceil((base.length + aux.length + (auxName?.length ?? 0)) / layout.recordAlign) * layout.recordAlign;
  const b = Buffer.alloc(size);
  base.copy(b);
  b.writeUInt16LE(size, h.size);
  b.writeUInt8(enums.op[op], o.op);
  b.writeUInt8(enums.syscall[syscall], o.syscall);
  b.writeUInt8(enums.auxKind[auxKind], o.aux_kind);
  b.writeUInt16LE(aux.length, o.aux_len);
  b.writeUInt16LE(auxName?.length ?? 0, o.aux_name_len);
  b.writeInt32LE(7, o.dirfd2);
  b.writeUInt32LE(1, o.op_flags);
  b.writeUInt32LE(0xffff_ffff, o.new_uid);
  b.writeUInt32LE(33, o.new_gid);
  b.writeUInt32LE(0o100644, o.old_mode);
  b.writeUInt32LE(5, o.old_uid);
  b.writeUInt32LE(6, o.old_gid);
  b.writeBigInt64LE(-1n, o.length);
  const at = o.path + path.length + asPassed.length;
  aux.copy(b, at);
  auxName?.copy(b, at + aux.length);
  return b;
}

t.test('an operation record decodes its second name, its name as passed and its fields, byte-exact', async (t) => {
  const d = new OpenEventDecoder(layout);
  const oldName = Buffer.from('/srv/old\xff', 'latin1');
  const [ren, sym, plain] = d.decodeBatch(
    Buffer.concat([
      opRecord('rename', 'renameat2', Buffer.from('/srv/new'), Buffer.from('new'), oldName, 'resolved', Buffer.from('old\xff', 'latin1'), enums.flag.auxLexical | enums.flag.hasOld),
      opRecord('symlink', 'symlinkat', Buffer.from('/tmp/l'), Buffer.from('l'), Buffer.from('../../etc/shadow'), 'asPassed'),
      opRecord('unlink', 'unlinkat', Buffer.from('/tmp/x'), Buffer.from('/tmp/x'), Buffer.alloc(0), 'none'),
    ]),
  );
  t.strictSame(
    { op: ren!.op, syscall: ren!.syscall, dirfd2: ren!.dirfd2, opFlags: ren!.opFlags, newUid: ren!.newUid, newGid: ren!.newGid, old: ren!.old, length: ren!.length },
    { op: 'rename', syscall: 'renameat2', dirfd2: 7, opFlags: 1, newUid: 0xffff_ffff, newGid: 33, old: { mode: 0o100644, uid: 5, gid: 6 }, length: -1n },
  );
  t.strictSame(
    { ...ren!.second, bytes: ren!.second!.bytes.toString('latin1'), asPassed: ren!.second!.asPassed?.toString('latin1') },
    { kind: 'path', bytes: '/srv/old\xff', lexical: true, truncated: false, unreadable: false, asPassed: 'old\xff' },
  );
  t.equal(ren!.path.toString(), '/srv/new', 'the first name is untouched by the second');
  t.equal(ren!.asPassed?.toString(), 'new');
  t.strictSame(sym!.second && { kind: sym!.second.kind, bytes: sym!.second.bytes.toString(), asPassed: sym!.second.asPassed }, { kind: 'text', bytes: '../../etc/shadow', asPassed: undefined });
  t.equal(sym!.old, undefined, 'no old mode without the flag');
  t.equal(plain!.second, undefined, 'no second name: none decoded');
  const bad = opRecord('link', 'linkat', Buffer.from('/a'), Buffer.from('a'), Buffer.from('/b'), 'resolved');
  bad.writeUInt16LE(300, o.aux_len);
  t.throws(() => d.decodeBatch(bad), DecodeError, 'a second name past its record is refused');
  const badKind = opRecord('link', 'linkat', Buffer.from('/a'), Buffer.from('a'), Buffer.from('/b'), 'resolved');
  badKind.writeUInt8(9, o.aux_kind);
  t.throws(() => d.decodeBatch(badKind), DecodeError, 'an unknown second-name kind is refused');
  const badOp = opRecord('link', 'linkat', Buffer.from('/a'), Buffer.from('a'), Buffer.from('/b'), 'resolved');
  badOp.writeUInt8(200, o.op);
  t.throws(() => d.decodeBatch(badOp), DecodeError, 'an unknown operation is refused');
});

t.test('a kernel-resolved path and the name as passed after it decode apart, byte-exact', async (t) => {
  const d = new OpenEventDecoder(layout);
  const name = Buffer.from('../x\xff', 'latin1');
  const [e, same, lexical] = d.decodeBatch(
    Buffer.concat([
      record(Buffer.from('/srv/a/x\xff', 'latin1'), 0, name),
      record(Buffer.from('/etc/passwd'), 0, Buffer.from('/etc/passwd')),
      record(Buffer.from('/tmp/gone'), enums.flag.pathLexical, Buffer.from('gone')),
    ]),
  );
  t.equal(e!.pathResolved, true);
  t.equal(e!.path.toString('latin1'), '/srv/a/x\xff', 'the path is the kernel\'s');
  t.equal(e!.pathOrigLen, e!.path.length);
  t.equal(e!.asPassed?.toString('latin1'), name.toString('latin1'), 'the name as passed follows it');
  t.equal(same!.asPassed, undefined, 'a name equal to the path is not carried twice');
  t.equal(lexical!.pathLexical, true);
  t.equal(lexical!.asPassed?.toString(), 'gone');
  const bad = record(Buffer.from('/a'), 0, Buffer.from('b'));
  bad.writeUInt16LE(5000, o.name_len);
  t.throws(() => d.decodeBatch(bad), DecodeError, 'a name as passed longer than its record');
});

t.test('the filesystem-relative walk of a process in another mount namespace decodes after the name as passed', async (t) => {
  const flags = enums.flag.otherTree | enums.flag.hasFile;
  const [e, host] = new OpenEventDecoder(layout).decodeBatch(
    Buffer.concat([record(Buffer.from('/data/f'), flags, Buffer.from('f'), Buffer.from('/vol/data/f')), record(Buffer.from('/tmp/x'), enums.flag.hasFile, Buffer.from('x'))]),
  );
  t.equal(e.path.toString(), '/data/f');
  t.equal(e.asPassed?.toString(), 'f');
  t.equal(e.fsPath?.toString(), '/vol/data/f');
  t.equal(e.otherTree, true);
  t.equal(e.fsPathTail, undefined);
  t.equal(host.otherTree, undefined, 'a host process: no flag');
  t.equal(host.fsPath, undefined, 'and no walk');
  t.equal(enums.flag.otherTree, 1 << 10, 'flags are appended, never renumbered');
  t.throws(() => new OpenEventDecoder(layout).decodeBatch((() => {
    const b = record(Buffer.from('/a'), flags, undefined, Buffer.from('/b'));
    b.writeUInt16LE(200, o.host_len);
    return b;
  })()), DecodeError, 'a host length past the record is refused');
});

t.test('the enforcement flags decode: a deny carried out as a kill, a kill target', async (t) => {
  const [e] = new OpenEventDecoder(layout).decodeBatch(record(Buffer.from('/x'), enums.flag.denyAsKill | enums.flag.killTarget));
  t.equal(e!.denyAsKill, true);
  t.equal(e!.killTarget, true);
});

t.test('a truncated name is flagged, with its original length unknown', async (t) => {
  const [e] = new OpenEventDecoder(layout).decodeBatch(record(Buffer.alloc(16, 0x61), enums.flag.pathTruncated));
  t.equal(e?.pathTruncated, true);
  t.equal(e?.pathOrigLen, undefined);
});

t.test('malformed batches are refused', async (t) => {
  const d = new OpenEventDecoder(layout);
  const good = record(Buffer.from('/x'));
  t.throws(() => d.decodeBatch(good.subarray(0, good.length - 8)), DecodeError, 'a cut record');
  const badType = Buffer.from(good);
  badType.writeUInt16LE(999, h.type);
  t.throws(() => d.decodeBatch(badType), DecodeError, 'an unknown type');
  const badLen = Buffer.from(good);
  badLen.writeUInt32LE(5000, o.path_len);
  t.throws(() => d.decodeBatch(badLen), DecodeError, 'a name longer than its record');
});

t.test('the name as passed and the lexical flag survive the wire: the indexer builds the collector\'s document', async (t) => {
  const d = new OpenEventDecoder(layout);
  const batch = Buffer.concat([
    record(Buffer.from('/srv/a/f'), 0, Buffer.from('../a/f')),
    record(Buffer.from('/tmp/gone'), enums.flag.pathLexical, Buffer.from('gone')),
    record(Buffer.from('/etc/passwd'), 0, Buffer.from('/etc/passwd')),
    record(Buffer.from('rel')),
  ]);
  const kinds: string[] = [];
  for (const e of d.decodeBatch(batch)) {
    const c: CapturedEvent = Object.assign(e, { resolvedPath: e.pathResolved ? e.path : Buffer.from('/home/u/rel'), resolution: e.pathResolved ? ('kernel' as const) : ('proc' as const), wallNs: 1n });
    const back = fromWire(toWire(c, 1));
    t.strictSame(toEcs(back, 'x86_64'), toEcs(c, 'x86_64'), `${c.path}: same document after the wire`);
    const p = toEcs(c, 'x86_64').filewarden.path;
    kinds.push(`${toEcs(c, 'x86_64').file.path} as_passed=${p.as_passed ?? '-'} lexical=${p.lexical ?? '-'}`);
  }
  t.strictSame(kinds, [
    '/srv/a/f as_passed=../a/f lexical=-',
    '/tmp/gone as_passed=gone lexical=true',
    '/etc/passwd as_passed=- lexical=-',
    '/home/u/rel as_passed=rel lexical=-',
  ]);
});
