// Writes documents with op_type create and deterministic ids through helpers.bulk, item by item:
// 409 is an event already indexed (a retry), 429 and 5xx are retried with backoff, any other 4xx
// is the document's own fault and goes to the dead-letter index with the refused bytes and the error.
import type { Client } from '@elastic/elasticsearch';
import type { EventDocument } from '../../../contract/src/event-document';

/** One event to write: the collector's bytes, placed (position and trust added), and a parsed view. */
export interface BulkItem {
  index: string;
  /** Deterministic (event.id): a retried write is a 409, never a second copy. */
  id: string;
  /** Exactly what is stored as _source. */
  stored: string;
  /** The same document parsed, for the rules and the dead-letter index. */
  doc: EventDocument;
  /** Wall time, ms since the epoch. */
  tsMs: number;
  /** For the dead-letter document's filewarden.* fields. */
  seq: number;
  stream: string;
  bootId: string;
}

export interface BulkResult {
  indexed: number;
  duplicates: number;
  deadLettered: number;
  /** Item attempts repeated after a 429 or 5xx. */
  retried: number;
}

export class RetryableBulkError extends Error {
  override readonly name = 'RetryableBulkError';
}

export interface BulkWriterOptions {
  deadletterIndex: string;
  /** Rounds of item retries inside one job before the job itself is retried. @defaultValue 3 */
  itemRounds?: number;
  /** First pause between rounds; doubles each round. @defaultValue 500 */
  backoffMs?: number;
  /** helpers.bulk concurrency. @defaultValue 2 */
  concurrency?: number;
  /** helpers.bulk flushBytes. @defaultValue 5 MB */
  flushBytes?: number;
}

interface Failure {
  item: BulkItem;
  status: number;
  error: { type?: string; reason?: string } | null;
}

const retryable = (status: number): boolean => status === 429 || status >= 500;

export class BulkWriter {
  constructor(
    private readonly es: Client,
    private readonly o: BulkWriterOptions,
  ) {}

  /**
   * Resolves when every item is indexed, already present, or dead-lettered. Rejects with
   * RetryableBulkError (or the transport's error) when something is still to do: the caller
   * retries the whole batch later, and the items already written come back as 409s.
   */
  async write(items: BulkItem[]): Promise<BulkResult> {
    const result: BulkResult = { indexed: 0, duplicates: 0, deadLettered: 0, retried: 0 };
    const rounds = this.o.itemRounds ?? 3;
    let pending = items;
    const dead: Failure[] = [];
    for (let round = 0; ; round++) {
      const { failures, indexed } = await this.send(pending);
      result.indexed += indexed;
      const again: BulkItem[] = [];
      for (const f of failures) {
        if (f.status === 409) result.duplicates++;
        else if (retryable(f.status)) again.push(f.item);
        else dead.push(f);
      }
      if (again.length === 0) break;
      if (round + 1 >= rounds) {
        await this.deadLetter(dead, result);
        throw new RetryableBulkError(`${again.length} of ${items.length} documents still refused with 429/5xx after ${rounds} rounds`);
      }
      result.retried += again.length;
      await new Promise((r) => setTimeout(r, (this.o.backoffMs ?? 500) * 2 ** round));
      pending = again;
    }
    await this.deadLetter(dead, result);
    return result;
  }

  private async send(items: BulkItem[]): Promise<{ failures: Failure[]; indexed: number }> {
    const byId = new Map(items.map((i) => [i.id, i]));
    const failures: Failure[] = [];
    const stats = await this.es.helpers.bulk<BulkItem>({
      datasource: items,
      // The stored bytes go out as they are: a string payload is not serialised again.
      onDocument: (i) => [{ create: { _index: i.index, _id: i.id } }, i.stored],
      onDrop: (d) => {
        const id = (d.operation as { create?: { _id?: string } }).create?._id;
        const item = id === undefined ? undefined : byId.get(id);
        if (!item) throw new Error(`bulk: a dropped item has no known id (${JSON.stringify(d.operation)})`);
        failures.push({ item, status: d.status, error: d.error as Failure['error'] });
      },
      // Two quick tries inside the helper; our own rounds then back off longer.
      retries: 1,
      wait: 200,
      concurrency: this.o.concurrency ?? 2,
      flushBytes: this.o.flushBytes ?? 5_000_000,
      refreshOnCompletion: false,
      // Only what per-item handling reads: a smaller response to build in Elasticsearch and to parse here.
      filter_path: 'took,errors,items.*.status,items.*.error',
    });
    return { failures, indexed: stats.successful };
  }

  private async deadLetter(dead: Failure[], result: BulkResult): Promise<void> {
    if (dead.length === 0) return;
    const now = new Date().toISOString();
    const docs = dead.map((f) => ({
      id: f.item.id,
      doc: {
        '@timestamp': now,
        target_index: f.item.index,
        error: { status: f.status, type: f.error?.type, reason: f.error?.reason },
        event: { id: f.item.id },
        filewarden: { seq: f.item.seq, seq_stream: f.item.stream, boot_id: f.item.bootId },
        // The exact bytes that were refused, and the same parsed (verify recomputes the digest from it).
        raw: { line: f.item.stored, document: JSON.parse(f.item.stored) as object },
      },
    }));
    let failed: string | undefined;
    let written = 0;
    await this.es.helpers.bulk<(typeof docs)[number]>({
      datasource: docs,
      onDocument: (d) => [{ create: { _index: this.o.deadletterIndex, _id: d.id } }, d.doc],
      onDrop: (d) => {
        // Already dead-lettered by an earlier attempt of this batch: not a failure.
        if (d.status !== 409) failed = `${d.status} ${JSON.stringify(d.error)}`;
        else written++;
      },
      retries: 2,
      wait: 500,
    }).then((s) => (written += s.successful));
    if (failed) throw new RetryableBulkError(`the dead-letter index refused a document: ${failed}`);
    result.deadLettered += written;
  }
}
