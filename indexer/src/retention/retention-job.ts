// The retention job: deletes every document older than its class's policy, except what a legal hold
// keeps, and records in the audit index exactly what went (counts, sequence ranges per stream, the
// chain heads it cut) so that verify and the report can tell deletion by policy from tampering.
// It works on any cluster: whole daily indices go with one delete, partial ones document by document.
import crypto from 'node:crypto';
import type { Client } from '@elastic/elasticsearch';
import { scan } from '../es-scan';
import { DATA_CLASSES, type DataClass, type RetentionPolicy } from './retention-policy';

const DAY_MS = 86_400_000;

export interface RetentionSources {
  indexPrefix: string;
  deadletterIndex: string;
  alertIndex: string;
  auditIndex: string;
}

export interface ClassResult {
  class: DataClass;
  days: number;
  /** Documents with @timestamp before this were due. */
  cutoff: string;
  /** Documents of the class deleted (events: event documents and dead letters; chain links are counted in `chains`). */
  deleted: number;
  indices_deleted: string[];
  /** What holds kept, in words: "host web-1 (case 17): 120 documents". */
  held: string[];
}

/** The sequence numbers deleted from one stream (events: the event indices and dead letters). */
export interface StreamDeletion {
  class: 'events';
  host: string;
  boot: string;
  stream: string;
  from: number;
  to: number;
  count: number;
}

/** The last chain link deleted from a stream: the next link names this head as its previous one. */
export interface ChainDeletion {
  boot: string;
  stream: string;
  through: number;
  head: string;
  links: number;
}

export interface RetentionRun {
  run_id: string;
  as_of: string;
  dry_run: boolean;
  policy: { source: string; days: Record<DataClass, number>; holds: RetentionPolicy['holds'] };
  classes: ClassResult[];
  streams: StreamDeletion[];
  chains: ChainDeletion[];
}

export interface RetentionOptions {
  /** Evaluate the policy as of this time. @defaultValue now */
  asOf?: Date;
  /** Count what would go; delete nothing and record nothing. @defaultValue false */
  dryRun?: boolean;
  log?(line: string): void;
}

interface Doc {
  host?: { name?: string };
  filewarden?: { boot_id?: string; seq_stream?: string; seq?: number; chain?: { boot_id: string; seq_stream: string; last: number; head: string } };
}

/** Parses <prefix>-YYYY.MM.DD into the UTC day's start (ms); undefined for other names. */
function dayStart(index: string, prefix: string): number | undefined {
  const m = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(\\d{4})\\.(\\d{2})\\.(\\d{2})$`).exec(index);
  return m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : undefined;
}

export async function runRetention(es: Client, src: RetentionSources, policy: RetentionPolicy, o: RetentionOptions = {}): Promise<RetentionRun> {
  const asOf = o.asOf ?? new Date();
  const dry = o.dryRun ?? false;
  const log = o.log ?? (() => undefined);
  const run: RetentionRun = {
    run_id: crypto.randomUUID(),
    as_of: asOf.toISOString(),
    dry_run: dry,
    policy: { source: policy.source, days: policy.days, holds: policy.holds },
    classes: [],
    streams: [],
    chains: [],
  };
  const cutoff = (c: DataClass): number => asOf.getTime() - policy.days[c] * DAY_MS;
  const heldHosts = policy.holds.filter((h) => h.host).map((h) => h.host!);
  const heldIndices = new Map(policy.holds.filter((h) => h.index).map((h) => [h.index!, h.reason]));
  const notHeldHost = heldHosts.length ? [{ terms: { 'host.name': heldHosts } }] : [];
  const streams = new Map<string, StreamDeletion>();
  const add: AddRange = (host, boot, stream, from, to, n) => {
    const k = `${boot}/${stream}`;
    const s = streams.get(k);
    if (!s) streams.set(k, { class: 'events', host, boot, stream, from, to, count: n });
    else {
      s.from = Math.min(s.from, from);
      s.to = Math.max(s.to, to);
      s.count += n;
    }
  };
  const count = (d: Doc): void => {
    const f = d.filewarden;
    if (f?.boot_id !== undefined && f.seq_stream !== undefined && f.seq !== undefined) add(d.host?.name ?? '', f.boot_id, f.seq_stream, f.seq, f.seq, 1);
  };
  const holdNote = async (c: ClassResult, index: string, before: number): Promise<void> => {
    for (const h of policy.holds.filter((x) => x.host)) {
      const n = await es.count({ index, ignore_unavailable: true, allow_no_indices: true, query: { bool: { filter: [{ term: { 'host.name': h.host } }, { range: { '@timestamp': { lt: new Date(before).toISOString() } } }] } } });
      if (n.count) c.held.push(`host ${h.host} (${h.reason}): ${n.count} documents in ${index}`);
    }
  };
  /** Deletes the matching documents one page at a time, counting each. */
  const deleteMatching = async (index: string, query: object, onDoc: (d: Doc) => void): Promise<number> => {
    let n = 0;
    let ids: { index: string; id: string }[] = [];
    const flush = async (): Promise<void> => {
      if (!ids.length || dry) return void (ids = []);
      const r = await es.bulk({ operations: ids.map((i) => ({ delete: { _index: i.index, _id: i.id } })), filter_path: 'errors,items.*.status,items.*.error' });
      if (r.errors) {
        const bad = r.items.map((i) => Object.values(i)[0]!).filter((i) => i.status !== 404);
        if (bad.length) throw new Error(`retention: ${bad.length} deletes failed in ${index}: ${bad[0]!.status} ${bad[0]!.error?.reason ?? ''}`);
      }
      ids = [];
    };
    const fields = ['host.name', 'filewarden.boot_id', 'filewarden.seq_stream', 'filewarden.seq', 'filewarden.chain.boot_id', 'filewarden.chain.seq_stream', 'filewarden.chain.last', 'filewarden.chain.head'];
    // _id is not sortable: @timestamp then event.id (unique in every index here) keeps the order total.
    for await (const h of scan<Doc>(es, { index, query, sort: [{ '@timestamp': 'asc' }, { 'event.id': 'asc' }], source: fields })) {
      onDoc(h._source ?? {});
      ids.push({ index: h._index, id: h._id });
      n++;
      if (ids.length >= 2000) await flush();
    }
    await flush();
    if (!dry && n) await es.indices.refresh({ index, ignore_unavailable: true, allow_no_indices: true });
    return n;
  };

  for (const cls of DATA_CLASSES) {
    const cut = cutoff(cls);
    const c: ClassResult = { class: cls, days: policy.days[cls], cutoff: new Date(cut).toISOString(), deleted: 0, indices_deleted: [], held: [] };
    run.classes.push(c);
    const expired = { range: { '@timestamp': { lt: new Date(cut).toISOString() } } };
    if (cls === 'events') {
      const names = Object.keys(await es.indices.get({ index: `${src.indexPrefix}-*`, allow_no_indices: true, ignore_unavailable: true })).sort();
      const heldDays: number[] = [];
      for (const index of names) {
        const start = dayStart(index, src.indexPrefix);
        if (start === undefined || start >= cut) continue;
        if (heldIndices.has(index)) {
          const n = await es.count({ index, query: { bool: { filter: [expired] } } });
          c.held.push(`index ${index} (${heldIndices.get(index)}): ${n.count} documents`);
          heldDays.push(start);
          continue;
        }
        await holdNote(c, index, cut);
        const keptByHost = heldHosts.length ? (await es.count({ index, query: { terms: { 'host.name': heldHosts } } })).count : 0;
        if (start + DAY_MS <= cut && keptByHost === 0) {
          // The whole day is due and no hold touches it: count it per stream, then drop the index.
          const n = await streamsOfIndex(es, index, add);
          if (!dry) await es.indices.delete({ index });
          c.deleted += n;
          c.indices_deleted.push(index);
          log(`retention: events: ${dry ? 'would delete' : 'deleted'} index ${index} (${n} events)`);
        } else {
          const n = await deleteMatching(index, { bool: { filter: [expired], must_not: notHeldHost } }, count);
          c.deleted += n;
          if (n) log(`retention: events: ${dry ? 'would delete' : 'deleted'} ${n} events from ${index}`);
        }
      }
      // Dead letters are events too (Elasticsearch refused them): same class, same cutoff.
      if (!heldIndices.has(src.deadletterIndex)) c.deleted += await deleteMatching(src.deadletterIndex, { bool: { filter: [expired], must_not: notHeldHost } }, count);
      // Chain links follow their events: a link goes once its newest event is due, unless a hold keeps its day.
      if (!heldIndices.has(src.auditIndex)) {
        const cuts = new Map<string, ChainDeletion>();
        const mustNot: object[] = [...notHeldHost, ...heldDays.map((d) => ({ range: { 'filewarden.chain.t0': { gte: new Date(d).toISOString(), lt: new Date(d + DAY_MS).toISOString() } } }))];
        const n = await deleteMatching(src.auditIndex, { bool: { filter: [{ exists: { field: 'filewarden.chain.head' } }, { range: { 'filewarden.chain.t1': { lt: new Date(cut).toISOString() } } }], must_not: mustNot } }, (d) => {
          const l = d.filewarden!.chain!;
          const k = `${l.boot_id}/${l.seq_stream}`;
          const prev = cuts.get(k);
          if (!prev) cuts.set(k, { boot: l.boot_id, stream: l.seq_stream, through: l.last, head: l.head, links: 1 });
          else {
            prev.links++;
            if (l.last > prev.through) Object.assign(prev, { through: l.last, head: l.head });
          }
        });
        run.chains.push(...cuts.values());
        if (n) log(`retention: events: ${dry ? 'would delete' : 'deleted'} ${n} chain links from ${src.auditIndex}`);
      }
    } else {
      const index = cls === 'alerts' ? src.alertIndex : src.auditIndex;
      if (heldIndices.has(index)) {
        const n = await es.count({ index, ignore_unavailable: true, allow_no_indices: true, query: { bool: { filter: [expired] } } });
        c.held.push(`index ${index} (${heldIndices.get(index)}): ${n.count} documents`);
        continue;
      }
      await holdNote(c, index, cut);
      // The audit class is everything in the audit index but the chain links (they follow the events).
      const mustNot = cls === 'audit' ? [...notHeldHost, { exists: { field: 'filewarden.chain.head' } }] : notHeldHost;
      c.deleted = await deleteMatching(index, { bool: { filter: [expired], must_not: mustNot } }, () => undefined);
      if (c.deleted) log(`retention: ${cls}: ${dry ? 'would delete' : 'deleted'} ${c.deleted} documents from ${index}`);
    }
  }
  run.streams = [...streams.values()];
  if (!dry) {
    const total = run.classes.reduce((a, c) => a + c.deleted, 0);
    await es.index({
      index: src.auditIndex,
      id: `retention-${run.run_id}`,
      op_type: 'create',
      refresh: 'wait_for',
      document: {
        '@timestamp': new Date().toISOString(),
        event: { kind: 'event', id: `retention-${run.run_id}`, category: ['configuration'], action: 'retention', outcome: 'success' },
        message: `retention as of ${run.as_of}: ${total} documents deleted (${run.classes.map((c) => `${c.class} ${c.deleted}`).join(', ')}); ${policy.holds.length} legal holds`,
        filewarden: { retention: run },
      },
    });
  }
  return run;
}

type AddRange = (host: string, boot: string, stream: string, from: number, to: number, n: number) => void;

/** Reads the stream facts of a whole index with aggregations (cheaper than reading every document). */
async function streamsOfIndex(es: Client, index: string, add: AddRange): Promise<number> {
  const r = await es.search({
    index,
    size: 0,
    track_total_hits: true,
    aggs: {
      boot: {
        terms: { field: 'filewarden.boot_id', size: 10_000 },
        aggs: { stream: { terms: { field: 'filewarden.seq_stream', size: 1000 }, aggs: { min: { min: { field: 'filewarden.seq' } }, max: { max: { field: 'filewarden.seq' } }, host: { terms: { field: 'host.name', size: 1 } } } } },
      },
    },
  });
  type B = { key: string; doc_count: number };
  for (const b of (r.aggregations?.boot as { buckets: (B & { stream: { buckets: (B & { min: { value: number }; max: { value: number }; host: { buckets: B[] } })[] } })[] }).buckets) {
    for (const s of b.stream.buckets) add(s.host.buckets[0]?.key ?? '', b.key, s.key, s.min.value, s.max.value, s.doc_count);
  }
  return typeof r.hits.total === 'number' ? r.hits.total : (r.hits.total?.value ?? 0);
}
