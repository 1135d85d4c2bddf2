// Maps one wire event and its batch to the ECS document the indexer stores: the collector's
// document shape (format/ecs.ts) completed with the host, account, process and sequence facts.
// It lives with the collector because the collector hashes this exact document into its chain.
import { fromWire, type WireBatch, type WireEvent } from '../batch/wire';
import { type EcsOpenDocument, toEcs } from './ecs';

export interface IndexedDocument extends EcsOpenDocument {
  host: { name: string; id?: string; boot: { id: string } };
  container?: { id: string };
}

export interface DocumentTarget {
  index: string;
  /** Deterministic: boot id, kernel boot-time stamp and thread id identify one open on a host. */
  id: string;
  doc: IndexedDocument;
}

/** UTC day of an ns wall time, as the daily index suffix: 2026.11.25. */
export function dayOf(wallNs: string): string {
  const d = new Date(Number(BigInt(wallNs) / 1_000_000n));
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}.${p(d.getUTCMonth() + 1)}.${p(d.getUTCDate())}`;
}

export function eventId(bootId: string, w: Pick<WireEvent, 't' | 'tid'>): string {
  return `${bootId}-${w.t}-${w.tid}`;
}

export function toDocument(b: WireBatch, stream: string, w: WireEvent, indexPrefix: string): DocumentTarget {
  const e = fromWire(w);
  const doc = toEcs(e) as IndexedDocument;
  const id = eventId(b.host.bootId, w);
  doc.event.sequence = w.q;
  doc.event.id = id;
  doc.host = { name: b.host.name, boot: { id: b.host.bootId } };
  if (b.host.id) doc.host.id = b.host.id;
  const user = b.users[String(e.uid)];
  if (user !== undefined) doc.user.name = user;
  const euser = b.users[String(e.euid)];
  if (euser !== undefined) doc.user.effective.name = euser;
  const group = b.groups[String(e.gid)];
  if (group !== undefined) doc.group.name = group;
  const proc = b.procs[String(e.pid)];
  if (proc) {
    if (proc.executable !== undefined) doc.process.executable = proc.executable;
    if (proc.args !== undefined) {
      doc.process.args = proc.args;
      doc.process.args_count = proc.args.length;
    }
    if (proc.containerId !== undefined) doc.container = { id: proc.containerId };
    if (proc.startTicks !== undefined) doc.filewarden.process_start_ticks = proc.startTicks;
  }
  doc.filewarden.process_info = proc ? 'proc' : 'unavailable';
  doc.filewarden.seq = w.q;
  doc.filewarden.seq_stream = stream;
  doc.filewarden.boot_id = b.host.bootId;
  // The exact bytes of the path, whatever its encoding: the evidence behind file.path.
  doc.filewarden.path.raw_b64 = e.resolvedPath.toString('base64');
  return { index: `${indexPrefix}-${dayOf(w.w)}`, id, doc };
}
