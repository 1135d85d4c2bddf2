// `filewarden verify`: recomputes every signed chain link and every event digest from what the
// cluster holds, and names each event that was deleted, modified or reordered since the collector
// signed it. Deletions that a retention run recorded are "expired", not findings.
import type { Client } from '@elastic/elasticsearch';
import { type ChainVersion, checkLink, eventDigest, genesis } from '../../../contract/src/chain';
import { scan } from '../es-scan';
import { retentionEvidence, type RetentionEvidence } from '../retention/retention-evidence';

export type FindingKind = 'deleted' | 'modified' | 'reordered' | 'duplicated' | 'unchained' | 'bad-link' | 'chain-break' | 'untrusted-key';

/** Something that proves the data changed after it was signed (or cannot be proven unchanged). */
export interface Finding {
  kind: FindingKind;
  host: string;
  boot: string;
  stream: string;
  /** The sequence number concerned, where there is one. */
  seq?: number;
  /** The document concerned, where there is one. */
  index?: string;
  docId?: string;
  detail: string;
}

export interface StreamResult {
  host: string;
  boot: string;
  stream: string;
  key: string;
  /** Whether the key was among --trusted-keys; undefined when none were given for this host. */
  keyTrusted?: boolean;
  links: number;
  firstSeq: number;
  lastSeq: number;
  /** Events whose document matches its signed digest at its signed position. */
  intact: number;
  /** Events refused by Elasticsearch whose dead-letter copy matches its digest. */
  deadLettered: number;
  /** Events deleted by a recorded retention run. */
  expired: number;
  /** The chain began again from genesis at these numbers (the collector lost its chain state). */
  restarts: number[];
}

export interface VerifyResult {
  from: string;
  to: string;
  streams: StreamResult[];
  findings: Finding[];
  /** No findings. */
  ok: boolean;
}

export interface VerifySources {
  /** Event indices pattern, e.g. filewarden-events-*. */
  eventIndices: string;
  deadletterIndex: string;
  auditIndex: string;
}

export interface VerifyOptions {
  from: Date;
  to: Date;
  /** Only these host names. @defaultValue all */
  hosts?: string[];
  /** Host name -> key ids it may sign with; hosts absent from it are checked against their own recorded key. */
  trustedKeys?: Map<string, Set<string>>;
  /** Called after each stream. */
  progress?(done: number, total: number): void;
  /** The retention evidence, when the caller has read it already. @defaultValue read from the audit index */
  evidence?: RetentionEvidence;
}

interface LinkSource {
  host: { name: string };
  filewarden: { chain: { v?: ChainVersion; boot_id: string; seq_stream: string; first: number; last: number; prev: string; head: string; key: string; digests: string; times: number[]; pub: string; sig: string } };
}

interface EventSource {
  filewarden?: { seq?: number };
  event?: { id?: string };
  raw?: { document?: object };
}

type Link = LinkSource['filewarden']['chain'] & { host: string; id: string; good: boolean };

const iso = (ms: number): string => new Date(ms).toISOString();

export async function verifyChains(es: Client, src: VerifySources, o: VerifyOptions): Promise<VerifyResult> {
  const filter: object[] = [
    { exists: { field: 'filewarden.chain.head' } },
    { range: { 'filewarden.chain.t1': { gte: o.from.toISOString() } } },
    { range: { 'filewarden.chain.t0': { lte: o.to.toISOString() } } },
  ];
  if (o.hosts?.length) filter.push({ terms: { 'host.name': o.hosts } });
  const streams = new Map<string, Link[]>();
  for await (const h of scan<LinkSource>(es, { index: src.auditIndex, query: { bool: { filter } }, sort: [{ 'filewarden.chain.boot_id': 'asc' }, { 'filewarden.chain.seq_stream': 'asc' }, { 'filewarden.chain.first': 'asc' }, { 'event.id': 'asc' }] })) {
    const c = h._source!.filewarden.chain;
    const k = `${c.boot_id}/${c.seq_stream}`;
    let l = streams.get(k);
    if (!l) streams.set(k, (l = []));
    l.push({ ...c, host: h._source!.host.name, id: h._id, good: false });
  }
  const evidence = o.evidence ?? (await retentionEvidence(es, src.auditIndex));
  const findings: Finding[] = [];
  const results: StreamResult[] = [];
  let done = 0;
  for (const links of streams.values()) {
    results.push(await verifyStream(es, src, o, links, evidence, findings));
    o.progress?.(++done, streams.size);
  }
  findings.push(...(await unchainedStreams(es, src, o, streams)));
  return { from: o.from.toISOString(), to: o.to.toISOString(), streams: results, findings, ok: findings.length === 0 };
}

async function verifyStream(es: Client, src: VerifySources, o: VerifyOptions, links: Link[], ev: RetentionEvidence, findings: Finding[]): Promise<StreamResult> {
  const { host, boot_id: boot, seq_stream: stream } = links[0]!;
  const at = { host, boot, stream };
  const r: StreamResult = { ...at, key: links[0]!.key, links: links.length, firstSeq: links[0]!.first, lastSeq: links[links.length - 1]!.last, intact: 0, deadLettered: 0, expired: 0, restarts: [] };
  const trusted = o.trustedKeys?.get(host);
  if (trusted) r.keyTrusted = links.every((l) => trusted.has(l.key));
  // Each link on its own: head, signature, key.
  const expected = new Map<number, { digest: string; time: number; v: ChainVersion }>();
  const bySeqDigest = new Map<string, number>();
  for (const l of links) {
    const c = checkLink({ boot, stream, first: l.first, last: l.last }, l);
    if (!c.ok) {
      findings.push({ kind: 'bad-link', ...at, seq: l.first, index: src.auditIndex, docId: l.id, detail: `link for seq ${l.first}..${l.last}: ${c.reason}; its events cannot be verified` });
      continue;
    }
    if (trusted && !trusted.has(l.key)) {
      findings.push({ kind: 'untrusted-key', ...at, seq: l.first, index: src.auditIndex, docId: l.id, detail: `link for seq ${l.first}..${l.last} is signed by key ${l.key}, not one of the host's trusted keys` });
      continue;
    }
    l.good = true;
    const d = Buffer.from(l.digests, 'base64');
    for (let i = 0; i <= l.last - l.first; i++) {
      const hex = d.subarray(32 * i, 32 * i + 32).toString('hex');
      // Links stored before the version was recorded are version 1.
      expected.set(l.first + i, { digest: hex, time: l.times[i]!, v: l.v ?? 1 });
      bySeqDigest.set(hex, l.first + i);
    }
  }
  // The links in sequence: each names the previous head.
  for (let i = 0; i < links.length; i++) {
    const l = links[i]!;
    if (l.prev === genesis(boot, stream)) {
      if (l.first !== 1) r.restarts.push(l.first);
      continue;
    }
    if (i > 0) {
      const p = links[i - 1]!;
      if (l.prev === p.head && l.first === p.last + 1) continue;
      findings.push({ kind: 'chain-break', ...at, seq: l.first, index: src.auditIndex, docId: l.id, detail: `the link for seq ${l.first}.. does not follow the link for ..${p.last}: links for seq ${p.last + 1}..${l.first - 1} are missing or a link was altered` });
      continue;
    }
    // The first link in the window: its predecessor is before the window, or was deleted by retention.
    if (ev.deletedHeads.has(`${boot}/${stream}/${l.prev}`)) continue;
    const before = await es.search({ index: src.auditIndex, size: 1, ignore_unavailable: true, query: { bool: { filter: [{ term: { 'filewarden.chain.head': l.prev } }, { term: { 'filewarden.chain.seq_stream': stream } }] } }, _source: false });
    if (before.hits.hits.length === 0) findings.push({ kind: 'chain-break', ...at, seq: l.first, index: src.auditIndex, docId: l.id, detail: `the link before seq ${l.first} (head ${l.prev.slice(0, 16)}…) is missing and no retention run deleted it` });
  }
  // Every document that claims a number in the chained range.
  const seen = new Set<number>();
  const changed = new Set<number>();
  const q = { bool: { filter: [{ term: { 'filewarden.boot_id': boot } }, { term: { 'filewarden.seq_stream': stream } }, { range: { 'filewarden.seq': { gte: r.firstSeq, lte: r.lastSeq } } }] } };
  for await (const h of scan<EventSource>(es, { index: `${src.eventIndices},${src.deadletterIndex}`, query: q, sort: [{ 'filewarden.seq': 'asc' }, { 'event.id': 'asc' }] })) {
    const s = h._source!;
    const p = s.filewarden?.seq as number;
    const dead = h._index === src.deadletterIndex;
    const doc = dead ? s.raw?.document : s;
    const where = { ...at, seq: p, index: h._index, docId: h._id };
    const want = expected.get(p);
    if (!want) {
      if (!links.some((l) => !l.good && p >= l.first && p <= l.last)) findings.push({ kind: 'unchained', ...where, detail: `document ${h._id} claims seq ${p}, which no link of this stream covers` });
      continue;
    }
    const dig = doc ? eventDigest(doc, want.v).toString('hex') : '';
    if (dig === want.digest) {
      if (seen.has(p)) findings.push({ kind: 'duplicated', ...where, detail: `a second document for seq ${p} (${h._id})` });
      else if (dead) r.deadLettered++;
      else r.intact++;
      seen.add(p);
      continue;
    }
    // A stream whose collector was upgraded holds links of both versions: an event moved across them.
    const other = bySeqDigest.get(dig) ?? (doc ? bySeqDigest.get(eventDigest(doc, want.v === 1 ? 2 : 1).toString('hex')) : undefined);
    if (other !== undefined) {
      findings.push({ kind: 'reordered', ...where, detail: `document ${h._id} at seq ${p} holds the event signed as seq ${other} (${iso(expected.get(other)!.time)})` });
      if (seen.has(other)) findings.push({ kind: 'duplicated', ...where, detail: `a second document for the event of seq ${other}` });
      seen.add(other);
      continue;
    }
    findings.push({ kind: 'modified', ...where, detail: `document ${h._id} at seq ${p} (${iso(want.time)}) does not match its signed digest` });
    changed.add(p);
  }
  for (const [p, want] of expected) {
    if (seen.has(p) || changed.has(p)) continue;
    if (want.time < (ev.eventCutoff.get(`${boot}/${stream}`) ?? -Infinity)) {
      r.expired++;
      continue;
    }
    findings.push({ kind: 'deleted', ...at, seq: p, detail: `the event of seq ${p} (${iso(want.time)}) is signed but in no index` });
  }
  return r;
}

/** Streams with events in the window but no chain link at all (a collector before chaining, or inserted data). */
async function unchainedStreams(es: Client, src: VerifySources, o: VerifyOptions, chained: Map<string, Link[]>): Promise<Finding[]> {
  const filter: object[] = [{ range: { '@timestamp': { gte: o.from.toISOString(), lte: o.to.toISOString() } } }, { exists: { field: 'filewarden.seq' } }];
  if (o.hosts?.length) filter.push({ terms: { 'host.name': o.hosts } });
  const r = await es.search({
    index: src.eventIndices,
    size: 0,
    ignore_unavailable: true,
    allow_no_indices: true,
    query: { bool: { filter } },
    aggs: { boot: { terms: { field: 'filewarden.boot_id', size: 10_000 }, aggs: { stream: { terms: { field: 'filewarden.seq_stream', size: 1000 }, aggs: { host: { terms: { field: 'host.name', size: 1 } } } } } } },
  });
  type B = { key: string; doc_count: number };
  const out: Finding[] = [];
  for (const b of (r.aggregations?.boot as { buckets: (B & { stream: { buckets: (B & { host: { buckets: B[] } })[] } })[] } | undefined)?.buckets ?? []) {
    for (const s of b.stream.buckets) {
      const host = s.host.buckets[0]?.key ?? '';
      if (!chained.has(`${b.key}/${s.key}`)) out.push({ kind: 'unchained', host, boot: b.key, stream: s.key, detail: `${s.doc_count} events of this stream have no chain link (written by a collector without chaining, or inserted)` });
    }
  }
  return out;
}
