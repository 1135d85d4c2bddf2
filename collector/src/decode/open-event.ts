// Decodes a batch of packed records from the addon. Every offset comes from the addon's layout(),
// so the C header stays the single definition. Names stay bytes: `path` is the exact raw path the
// kernel reported and `asPassed` the exact name the caller passed, when the record carries both.
import type { ActionName, HookName, OpenEvent, OperationName, SecondName, SyscallName } from '../../../contract/src/event';
import type { RecordLayout } from '../probe/native';

export class DecodeError extends Error {
  override readonly name = 'DecodeError';
}

function reverse<K extends string>(m: Record<K, number>): Map<number, K> {
  return new Map(Object.entries(m).map(([k, v]) => [v as number, k as K]));
}

export class OpenEventDecoder {
  private readonly hooks: Map<number, HookName>;
  private readonly syscalls: Map<number, SyscallName>;
  private readonly actions: Map<number, ActionName>;
  private readonly ops: Map<number, OperationName>;

  constructor(private readonly layout: RecordLayout) {
    this.hooks = reverse(layout.enums.hook);
    this.syscalls = reverse(layout.enums.syscall);
    this.actions = reverse(layout.enums.action);
    this.ops = reverse(layout.enums.op);
  }

  /** The second name of a record whose names end at `at`, or undefined when it has none. */
  private second(buf: Buffer, off: number, at: number, flags: number): SecondName | undefined {
    const { record: o, enums } = this.layout;
    const kind = buf.readUInt8(off + o.aux_kind);
    if (kind === enums.auxKind.none) return undefined;
    const len = buf.readUInt16LE(off + o.aux_len);
    const nameLen = buf.readUInt16LE(off + o.aux_name_len);
    const bytes = Buffer.from(buf.subarray(at, at + len));
    const s: SecondName = {
      kind: kind === enums.auxKind.resolved ? 'path' : kind === enums.auxKind.pathAsPassed ? 'path_as_passed' : 'text',
      bytes,
      lexical: (flags & enums.flag.auxLexical) !== 0,
      truncated: (flags & enums.flag.auxTruncated) !== 0,
      unreadable: (flags & enums.flag.auxUnreadable) !== 0,
    };
    if (nameLen > 0) {
      const asPassed = buf.subarray(at + len, at + len + nameLen);
      if (!asPassed.equals(bytes)) s.asPassed = Buffer.from(asPassed);
    }
    return s;
  }

  /** Every record in the batch; throws DecodeError on a malformed batch rather than guess. */
  decodeBatch(buf: Buffer): OpenEvent[] {
    const { header: h, record: o, enums } = this.layout;
    const out: OpenEvent[] = [];
    let off = 0;
    while (off < buf.length) {
      if (buf.length - off < this.layout.headerSize) throw new DecodeError(`truncated header at offset ${off}`);
      const type = buf.readUInt16LE(off + h.type);
      const size = buf.readUInt16LE(off + h.size);
      if (size < this.layout.recordFixedSize || off + size > buf.length) throw new DecodeError(`bad record size ${size} at offset ${off}`);
      if (type !== enums.eventType.open) throw new DecodeError(`unknown record type ${type} at offset ${off}`);
      const pathLen = buf.readUInt32LE(off + o.path_len);
      const nameLen = buf.readUInt16LE(off + o.name_len);
      const hostLen = buf.readUInt16LE(off + o.host_len);
      const auxLen = buf.readUInt16LE(off + o.aux_len) + buf.readUInt16LE(off + o.aux_name_len);
      if (o.path + pathLen + nameLen + hostLen + auxLen > size) {
        throw new DecodeError(`name lengths ${pathLen} + ${nameLen} + ${hostLen} + ${auxLen} overrun the record at offset ${off}`);
      }
      const flags = buf.readUInt16LE(off + o.flags);
      const hook = this.hooks.get(buf.readUInt8(off + o.hook));
      const syscall = this.syscalls.get(buf.readUInt8(off + o.syscall));
      const action = this.actions.get(buf.readUInt8(off + o.action));
      const op = this.ops.get(buf.readUInt8(off + o.op));
      const auxKind = buf.readUInt8(off + o.aux_kind);
      if (!hook || !syscall || !action || !op || auxKind > enums.auxKind.pathAsPassed) throw new DecodeError(`unknown enum value at offset ${off}`);
      const truncated = (flags & enums.flag.pathTruncated) !== 0;
      const origLen = buf.readUInt32LE(off + o.path_orig_len);
      const commRaw = buf.subarray(off + o.comm, off + o.comm + this.layout.commLen);
      const nul = commRaw.indexOf(0);
      const pathAt = off + o.path;
      const asPassed = nameLen > 0 ? buf.subarray(pathAt + pathLen, pathAt + pathLen + nameLen) : undefined;
      const ev: OpenEvent = {
        tsNs: buf.readBigUInt64LE(off + h.ts_ns),
        cpu: buf.readUInt32LE(off + h.cpu),
        pid: buf.readUInt32LE(off + o.pid),
        tid: buf.readUInt32LE(off + o.tid),
        ppid: buf.readUInt32LE(off + o.ppid),
        uid: buf.readUInt32LE(off + o.uid),
        gid: buf.readUInt32LE(off + o.gid),
        euid: buf.readUInt32LE(off + o.euid),
        cgroupId: buf.readBigUInt64LE(off + o.cgroup_id),
        mntnsId: buf.readUInt32LE(off + o.mntns_id),
        dirfd: buf.readInt32LE(off + o.dirfd),
        ret: Number(buf.readBigInt64LE(off + o.ret)),
        ino: buf.readBigUInt64LE(off + o.ino),
        dev: buf.readUInt32LE(off + o.dev),
        openFlags: buf.readUInt32LE(off + o.open_flags),
        mode: buf.readUInt32LE(off + o.mode),
        fMode: buf.readUInt32LE(off + o.f_mode),
        hook,
        action,
        syscall,
        op,
        dirfd2: buf.readInt32LE(off + o.dirfd2),
        opFlags: buf.readUInt32LE(off + o.op_flags),
        newUid: buf.readUInt32LE(off + o.new_uid),
        newGid: buf.readUInt32LE(off + o.new_gid),
        length: buf.readBigInt64LE(off + o.length),
        pathResolved: buf.readUInt8(off + o.path_kind) === enums.pathKind.resolved,
        path: Buffer.from(buf.subarray(pathAt, pathAt + pathLen)),
        pathLexical: (flags & enums.flag.pathLexical) !== 0,
        pathOrigLen: truncated ? (origLen === 0 ? undefined : origLen) : pathLen,
        pathTruncated: truncated,
        pathTail: (flags & enums.flag.pathTail) !== 0,
        pathUnreadable: (flags & enums.flag.pathUnreadable) !== 0,
        pathUnjudged: (flags & enums.flag.pathUnjudged) !== 0,
        retUnknown: (flags & enums.flag.retUnknown) !== 0,
        hasFile: (flags & enums.flag.hasFile) !== 0,
        denyAsKill: (flags & enums.flag.denyAsKill) !== 0,
        killTarget: (flags & enums.flag.killTarget) !== 0,
        comm: commRaw.subarray(0, nul < 0 ? commRaw.length : nul).toString('utf8'),
      };
      if (asPassed && !asPassed.equals(ev.path)) ev.asPassed = Buffer.from(asPassed);
      if (op === 'modify') ev.writes = buf.readUInt32LE(off + o.count);
      if ((flags & enums.flag.hasOld) !== 0) {
        ev.old = { mode: buf.readUInt32LE(off + o.old_mode), uid: buf.readUInt32LE(off + o.old_uid), gid: buf.readUInt32LE(off + o.old_gid) };
      }
      const second = this.second(buf, off, pathAt + pathLen + nameLen + hostLen, flags);
      if (second) ev.second = second;
      if ((flags & enums.flag.otherTree) !== 0) {
        ev.otherTree = true;
        if (hostLen > 0) {
          const at = pathAt + pathLen + nameLen;
          ev.fsPath = Buffer.from(buf.subarray(at, at + hostLen));
          if ((flags & enums.flag.hostTail) !== 0) ev.fsPathTail = true;
        }
      }
      out.push(ev);
      off += size;
    }
    return out;
  }
}
