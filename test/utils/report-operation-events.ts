// Event documents of file operations (unlink, rename, chmod, ...) built by the contract's one
// builder, and their indexing into a test's own event indices: the report and Kibana tests judge
// operations by the documents the collector would send, without needing the kernel to make them.
import type { Client } from '@elastic/elasticsearch';
import type { CapturedEvent, OperationName, SyscallName } from '../../contract/src/event';
import { OPEN_OPERATION_FIELDS } from '../../contract/src/event';
import { buildDocument, dayOf, type EventDocument } from '../../contract/src/event-document';
import { event } from './wire-fixtures';

/** One operation as a test states it: the facts that matter, everything else a plain success. */
export interface OperationSpec {
  op: OperationName;
  syscall: SyscallName;
  /** The path acted on (a rename's new path, a link's new name). */
  path: string;
  comm: string;
  uid: number;
  /** The user's name as the collector found it; undefined: unknown (the report shows the uid). */
  userName?: string;
  /** A rename's old path or a link's existing file (resolved), a symlink's target or an xattr name (text). */
  second?: { kind: 'path' | 'text'; text: string };
  /** chmod: the new mode; open: the create mode. */
  mode?: number;
  /** fchmod, fchown: the file's mode and owner before. */
  old?: { mode: number; uid: number; gid: number };
  /** chown: the owner as passed (0xffffffff: unchanged). */
  newUid?: number;
  newGid?: number;
  /** truncate: the length. */
  length?: bigint;
  /** open: the flags. */
  openFlags?: number;
  /** The fd or 0 on success, -errno on failure. @defaultValue 0 */
  ret?: number;
  /** A document of a version-1 batch: an open without `filewarden.operation`. */
  v1?: boolean;
}

export const OPS_HOST = { name: 'web-1', bootId: '0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9' };

/** The captured event of a spec, `i` seconds after `start` (so documents sort in spec order). */
export function operationEvent(s: OperationSpec, start: Date, i: number): CapturedEvent {
  const wallNs = BigInt(start.getTime() + i * 1000) * 1_000_000n;
  const path = Buffer.from(s.path);
  return event({
    ...OPEN_OPERATION_FIELDS,
    op: s.op,
    syscall: s.syscall,
    tsNs: 1_000_000_000n + BigInt(i),
    wallNs,
    tid: 500 + i,
    pid: 500 + i,
    uid: s.uid,
    euid: s.uid,
    gid: s.uid,
    ret: s.ret ?? 0,
    openFlags: s.openFlags ?? 0,
    mode: s.mode ?? 0,
    hook: 'tracepoint',
    pathResolved: true,
    path,
    resolvedPath: path,
    resolution: 'kernel',
    pathOrigLen: undefined,
    pathUnjudged: false,
    denyAsKill: false,
    comm: s.comm,
    newUid: s.newUid ?? 0,
    newGid: s.newGid ?? 0,
    length: s.length ?? 0n,
    ...(s.second ? { second: { kind: s.second.kind, bytes: Buffer.from(s.second.text), lexical: false, truncated: false, unreadable: false } } : {}),
    ...(s.old ? { old: s.old } : {}),
  });
}

/** The stored document of a spec, as the collector builds it (a version-1 open without its operation). */
export function operationDocument(s: OperationSpec, start: Date, i: number): EventDocument {
  const doc = buildDocument(operationEvent(s, start, i), { host: OPS_HOST, stream: 'open', abi: 'x86_64', ...(s.userName !== undefined ? { userName: s.userName } : {}) });
  if (s.v1) delete doc.filewarden.operation;
  return doc;
}

/** Indexes documents into their daily indices under `indexPrefix` (templates installed by the caller) and refreshes. */
export async function indexOperationDocuments(es: Client, indexPrefix: string, docs: EventDocument[]): Promise<void> {
  const r = await es.bulk({ refresh: true, operations: docs.flatMap((d) => [{ create: { _index: `${indexPrefix}-${dayOf(d['@timestamp'])}`, _id: d.event.id! } }, d]) });
  if (r.errors) throw new Error(`bulk: ${JSON.stringify(r.items.find((x) => x.create?.error)?.create?.error)}`);
}
