// Builds each event's document exactly once: the contract's one builder, its JSON line, and the
// line's digest for the hash chain. A batch job then carries those very bytes, so the indexer
// builds nothing and verify recomputes the same digest from what Elasticsearch stores.
import type { BatchHost } from '../../../contract/src/batch-host';
import { lineDigest } from '../../../contract/src/chain';
import type { CapturedEvent, ProcessInfo } from '../../../contract/src/event';
import { buildDocument } from '../../../contract/src/event-document';
import type { KernelAbi } from '../../../contract/src/tables';
import { type BatchJobData, encodeDocuments } from '../../../contract/src/wire';
import type { HashChain } from '../integrity/hash-chain';

/** Where the facts besides the event come from (read from /proc and the account databases). */
export interface Enrichment {
  proc(pid: number): ProcessInfo | undefined;
  userName(uid: number): string | undefined;
  groupName(gid: number): string | undefined;
}

export class BatchBuilder {
  private lines: string[] = [];
  private digests: Buffer[] = [];
  private times: number[] = [];
  private first = 0;
  private chars = 0;
  /** Per batch, as the old wire format carried them: /proc is read once per process per batch. */
  private procs = new Map<number, ProcessInfo | undefined>();

  constructor(
    private readonly host: BatchHost,
    private readonly stream: string,
    private readonly abi: KernelAbi,
    private readonly enrich: Enrichment,
    /** Signs each batch into the stream's chain; undefined with the chain off. */
    private readonly chain?: HashChain,
  ) {}

  get size(): number {
    return this.lines.length;
  }

  /** Characters of document text held (see BATCH_TEXT_BUDGET). */
  get textLength(): number {
    return this.chars;
  }

  /** Adds the event numbered `seq`: numbers must follow each other within a batch. */
  add(e: CapturedEvent, seq: number): void {
    if (this.lines.length === 0) this.first = seq;
    else if (seq !== this.first + this.lines.length) throw new Error(`batch of ${this.first}.. given seq ${seq}, not ${this.first + this.lines.length}`);
    let proc = this.procs.get(e.pid);
    if (proc === undefined && !this.procs.has(e.pid)) this.procs.set(e.pid, (proc = this.enrich.proc(e.pid)));
    const doc = buildDocument(e, {
      host: this.host,
      stream: this.stream,
      abi: this.abi,
      proc,
      userName: this.enrich.userName(e.uid),
      effectiveUserName: this.enrich.userName(e.euid),
      groupName: this.enrich.groupName(e.gid),
    });
    // JSON.stringify's text, in the builder's key order: verify gets it back from _source (chain.ts).
    const line = JSON.stringify(doc);
    this.lines.push(line);
    this.chars += line.length + 1;
    if (this.chain) {
      this.digests.push(lineDigest(line));
      this.times.push(Number(e.wallNs / 1_000_000n));
    }
  }

  /** The batch job for everything added since the last take (undefined when nothing was). */
  take(): BatchJobData | undefined {
    if (this.lines.length === 0) return undefined;
    const data = encodeDocuments(this.lines, this.host.bootId, this.stream, this.first);
    if (this.chain) data.chain = this.chain.link({ boot: this.host.bootId, stream: this.stream, first: data.first, last: data.last }, Buffer.concat(this.digests), this.times);
    this.lines = [];
    this.digests = [];
    this.times = [];
    this.chars = 0;
    this.procs = new Map();
    return data;
  }
}
