// The indexer: a BullMQ worker that decodes each batch, maps it to ECS and bulk-writes it. A job
// completes only when every event is indexed, already there, or dead-lettered; otherwise BullMQ
// retries it with a capped backoff, so an Elasticsearch outage delays events and loses none.
// Rules are evaluated on every batch: enforcement commands go out first (they are the fast path),
// then the events, the alerts and the audit records are written.
import type { KeyObject } from 'node:crypto';
import os from 'node:os';
import type { Client } from '@elastic/elasticsearch';
import { type Job, Queue, Worker } from 'bullmq';
import type IORedis from 'ioredis';
import { connectRedis } from '../../../stack/src/redis-connect';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { type AuditJobData, type AuditRecord, type BatchJobData, type CheckpointJobData, decodeDocuments, isAudit, isCheckpoint, placeDocument, WireError } from '../../../contract/src/wire';
import { decodeBatch, v1DocumentLines, v1Naming } from '../../../contract/src/wire-v1';
import { dayOf, type EventDocument } from '../../../contract/src/event-document';
import { abiOf } from '../../../contract/src/tables';
import { type CommandBody, MAX_LIFETIME_MS } from '../../../contract/src/command';
import { type Alert, AlertEngine, alertId } from '../alerts/alert-engine';
import { alertDocument, type AlertEnforcement, auditDocument, chainDocument, chainRecordId } from '../alerts/alert-document';
import { RedisThresholdStore } from '../alerts/threshold-store';
import { CommandSender } from '../commands/command-sender';
import { kernelPolicy, type KernelPolicy } from '../rules/kernel-policy';
import { pathPrefixes } from '../rules/rule-loader';
import type { Rule } from '../rules/rule-types';
import { serveMetrics, type MetricsServer } from '../../../stack/src/metrics-server';
import { BACKOFF_TYPE, DEFAULT_QUEUE, QUEUE_PREFIX } from '../../../contract/src/queue';
import { type BulkItem, type BulkResult, BulkWriter, RetryableBulkError } from '../bulk/bulk-writer';
import { installTemplates } from '../ecs/index-templates';
import { INDEXER_DEFAULTS } from './defaults';
import { runRetention } from '../retention/retention-job';
import { judgeLink, judgeRecord, type SourceTrust, storedTrust, verifyDigests } from '../integrity/source-trust';
import { EnrolledKeys } from '../integrity/trusted-keys';
import { isTransient } from './transient';
import { documentCheck, validateJob, wireBatchCheck } from './job-schema';
import type { RetentionPolicy } from '../retention/retention-policy';

export interface IndexerOptions {
  es: Client;
  redisUrl: string;
  /** @defaultValue 'filewarden-events' */
  queue?: string;
  /** Daily indices are <prefix>-YYYY.MM.DD. @defaultValue 'filewarden-events' */
  indexPrefix?: string;
  /** @defaultValue 'filewarden-deadletter' */
  deadletterIndex?: string;
  /** @defaultValue 'filewarden-checkpoints' */
  checkpointIndex?: string;
  /** @defaultValue 'filewarden-alerts' */
  alertIndex?: string;
  /** @defaultValue 'filewarden-audit' */
  auditIndex?: string;
  /** Rules evaluated on every batch. @defaultValue none */
  rules?: Rule[];
  /** Signs enforcement commands; required when a rule kills or denies. @defaultValue none */
  commandKey?: KeyObject;
  /**
   * Enrolled collectors' host keys: <host>.pub files or directories of them (re-read when an
   * unknown host or key shows up). Only a batch signed by an enrolled key can cause a command;
   * only a signed checkpoint from one moves a stream's number. @defaultValue none (nothing trusted)
   */
  trustedKeys?: string[];
  /** How long a command stays valid. @defaultValue 60000 */
  commandLifetimeMs?: number;
  /** Runs the retention job with this policy at start and every retentionIntervalMs. @defaultValue none */
  retention?: RetentionPolicy;
  /** @defaultValue 3600000 */
  retentionIntervalMs?: number;
  /** Batches indexed at once. @defaultValue 2 */
  concurrency?: number;
  /** Install the index templates at start (needs manage_index_templates). @defaultValue true */
  installTemplates?: boolean;
  /** @defaultValue 9465 */
  metricsPort?: number;
  /** @defaultValue '127.0.0.1' */
  metricsHost?: string;
  log(line: string): void;
}


/** The built-in alert for input that no enrolled collector signed (docs/enforcement.md). */
export const UNTRUSTED_SOURCE_RULE: Rule = {
  id: 'filewarden.untrusted-source',
  name: 'Events from a source that is not an enrolled collector',
  description: 'A batch reached the queue without a hash-chain link signed by a key enrolled for its host: forged, from an unenrolled or re-keyed host, or altered in transit. Its events are indexed and marked untrusted and never cause a command.',
  severity: 'high',
  tags: ['filewarden', 'integrity'],
  match: {},
  except: [],
  action: 'alert',
  scope: 'on-alert',
  source: 'filewarden:0',
};

export class IndexerStartError extends Error {
  override readonly name = 'IndexerStartError';
}

export class IndexNameError extends Error {
  override readonly name = 'IndexNameError';
}

const hostOf = (items: BulkItem[]): EventDocument['host'] => items[0]!.doc.host;

/** Version-1 batches are named as version-1 indexers named them: with this machine's errno table. */
const V1_NAMING = v1Naming(os.constants.errno);

/** A document line refused at the door: dead-lettered alone, with its reason. */
interface RefusedLine {
  seq: number;
  line: string;
  reason: string;
}

/** Job retry delay: 0.5 s doubling to a 30 s cap. */
export function backoffDelay(attemptsMade: number): number {
  return Math.min(30_000, 500 * 2 ** Math.max(0, attemptsMade - 1));
}

export class IndexerWorker {
  readonly registry = new Registry();
  private worker: Worker | undefined;
  private queue: Queue;
  private readonly connection: IORedis;
  private readonly writer: BulkWriter;
  private metrics: MetricsServer | undefined;
  private readonly c: {
    indexed: Counter;
    duplicates: Counter;
    deadLettered: Counter;
    retried: Counter;
    batches: Counter;
    attemptsFailed: Counter;
    poison: Counter;
    untrustedEvents: Counter;
    untrustedRecords: Counter;
    checkpoints: Counter;
    alerts: Counter;
    commands: Counter;
    audits: Counter;
    latency: Histogram;
  };
  readonly alertIndex: string;
  readonly auditIndex: string;
  private readonly engine: AlertEngine;
  private readonly sender: CommandSender | undefined;
  private readonly policy: KernelPolicy;
  private readonly enrolled: EnrolledKeys;
  /** Untrusted sources already logged (host, stream, reason), so a flood logs once each. */
  private readonly untrustedLogged = new Set<string>();
  /** Hosts sent the current kernel policy by this process (host id -> boot id). */
  private readonly policySent = new Map<string, string>();
  private retentionTimer: NodeJS.Timeout | undefined;
  private retentionRun: Promise<void> | undefined;
  readonly prefix: string;
  readonly deadletterIndex: string;
  readonly checkpointIndex: string;

  constructor(private readonly o: IndexerOptions) {
    this.prefix = o.indexPrefix ?? INDEXER_DEFAULTS.indexPrefix;
    this.deadletterIndex = o.deadletterIndex ?? INDEXER_DEFAULTS.deadletterIndex;
    this.checkpointIndex = o.checkpointIndex ?? INDEXER_DEFAULTS.checkpointIndex;
    this.alertIndex = o.alertIndex ?? INDEXER_DEFAULTS.alertIndex;
    this.auditIndex = o.auditIndex ?? INDEXER_DEFAULTS.auditIndex;
    const rules = o.rules ?? [];
    const enforcing = rules.filter((r) => r.action !== 'alert');
    if (enforcing.length && !o.commandKey) throw new IndexerStartError(`rules ${enforcing.map((r) => r.id).join(', ')} kill or deny, which needs --command-key (the Ed25519 key that signs commands)`);
    this.policy = kernelPolicy(rules);
    this.enrolled = new EnrolledKeys(o.trustedKeys ?? [], o.log);
    for (const i of [this.deadletterIndex, this.checkpointIndex, this.alertIndex, this.auditIndex]) {
      if (i.startsWith(`${this.prefix}-`)) throw new IndexNameError(`the index ${i} must not match the event indices ${this.prefix}-*`);
    }
    this.connection = connectRedis(o.redisUrl, { maxRetriesPerRequest: null });
    this.connection.on('error', () => undefined);
    this.queue = new Queue(o.queue ?? DEFAULT_QUEUE, { connection: this.connection, prefix: QUEUE_PREFIX });
    this.queue.on('error', () => undefined);
    this.writer = new BulkWriter(o.es, { deadletterIndex: this.deadletterIndex });
    this.engine = new AlertEngine(rules, new RedisThresholdStore(this.connection));
    this.sender = o.commandKey ? new CommandSender(this.connection, o.commandKey, o.commandLifetimeMs ?? INDEXER_DEFAULTS.commandLifetimeMs) : undefined;
    const r = this.registry;
    const counter = (name: string, help: string): Counter => new Counter({ name, help, registers: [r] });
    this.c = {
      indexed: counter('filewarden_indexer_events_indexed_total', 'events written to Elasticsearch (201 created)'),
      duplicates: counter('filewarden_indexer_events_duplicate_total', 'events already indexed (409 on create: a retried batch), not written twice'),
      deadLettered: counter('filewarden_indexer_events_deadlettered_total', 'events refused by Elasticsearch (4xx) and stored in the dead-letter index'),
      retried: counter('filewarden_indexer_items_retried_total', 'document writes repeated after a 429 or 5xx'),
      batches: counter('filewarden_indexer_batches_total', 'batches (jobs) completed'),
      attemptsFailed: counter('filewarden_indexer_batch_attempts_failed_total', 'batch attempts that failed and will be retried (Elasticsearch unavailable or overloaded)'),
      poison: counter('filewarden_indexer_batches_poison_total', 'jobs that can never be indexed (invalid, undecodable, or refused for a reason of their own): dead-lettered whole, with the reason, on the first attempt'),
      untrustedEvents: counter('filewarden_indexer_events_untrusted_total', 'events indexed from batches not signed by an enrolled collector key (marked filewarden.trust.status: untrusted; never cause a command)'),
      untrustedRecords: counter('filewarden_indexer_records_untrusted_total', 'checkpoints, heartbeats and audit records not signed by an enrolled collector key (stored as such; never move a checkpoint)'),
      checkpoints: counter('filewarden_indexer_checkpoints_total', 'sequence checkpoints recorded (highest number a collector gave out)'),
      alerts: counter('filewarden_indexer_alerts_total', 'alerts raised by the rules (a retried batch raises the same ids, counted again)'),
      commands: counter('filewarden_indexer_commands_sent_total', 'signed enforcement commands queued for hosts'),
      audits: counter('filewarden_indexer_audit_records_total', 'enforcement decisions from collectors written to the audit index'),
      latency: new Histogram({
        name: 'filewarden_indexer_event_latency_seconds',
        help: 'from the open (event time) to Elasticsearch acknowledging the write',
        buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
        registers: [r],
      }),
    };
    const queue = this.queue;
    new Gauge({
      name: 'filewarden_queue_jobs',
      help: 'jobs in the queue by state',
      labelNames: ['state'],
      registers: [r],
      async collect() {
        const counts = await queue.getJobCounts('wait', 'active', 'delayed', 'failed', 'prioritized');
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      },
    });
  }

  async start(): Promise<void> {
    try {
      if (this.o.installTemplates ?? true) {
        await installTemplates(this.o.es, { indexPrefix: this.prefix, deadletterIndex: this.deadletterIndex, checkpointIndex: this.checkpointIndex, alertIndex: this.alertIndex, auditIndex: this.auditIndex }).catch((e: Error) => {
          throw new IndexerStartError(`cannot install the index templates: ${e.message}`);
        });
      }
      this.metrics = await serveMetrics(this.registry, this.o.metricsPort ?? INDEXER_DEFAULTS.metricsPort, this.o.metricsHost ?? INDEXER_DEFAULTS.metricsHost);
    } catch (e) {
      // Close what is open so the process exits with the error (a supervisor restarts it).
      await this.queue.close().catch(() => undefined);
      this.connection.disconnect();
      throw e;
    }
    this.worker = new Worker<unknown, BulkResult | undefined>(this.queue.name, (job) => this.handle(job), {
      connection: this.connection,
      prefix: QUEUE_PREFIX,
      concurrency: this.o.concurrency ?? INDEXER_DEFAULTS.concurrency,
      // A killed indexer's jobs return to the queue after the lock expires; a stall is never the job's fault.
      lockDuration: 15_000,
      stalledInterval: 5_000,
      maxStalledCount: 1_000_000,
      settings: { backoffStrategy: (attemptsMade: number, type?: string) => (type === BACKOFF_TYPE ? backoffDelay(attemptsMade) : 1000) },
    });
    this.worker.on('error', (e) => this.o.log(`index: worker error: ${e.message}`));
    // Only availability errors reach here (handle() dead-letters the rest): the job is retried.
    this.worker.on('failed', (job, e) => {
      this.c.attemptsFailed.inc();
      this.o.log(`index: job ${job?.id} attempt ${job?.attemptsMade} failed, will retry: ${e.message}`);
    });
    this.o.log(`index: queue ${this.queue.name} -> ${this.prefix}-YYYY.MM.DD (dead letters: ${this.deadletterIndex}, checkpoints: ${this.checkpointIndex}); metrics ${this.metrics.url}`);
    const n = this.o.rules?.length ?? 0;
    this.o.log(`index: ${n} rules -> ${this.alertIndex}; ${this.policy.entries.length} kernel policy entries (version ${this.policy.version}); commands ${this.sender ? 'signed and sent' : 'off (no --command-key)'}; audit -> ${this.auditIndex}`);
    this.o.log(`index: trust: ${this.enrolled.summary}; only batches and checkpoints signed by an enrolled key cause commands or move checkpoints`);
    if (this.o.retention) {
      const every = this.o.retentionIntervalMs ?? INDEXER_DEFAULTS.retentionIntervalMs;
      const d = this.o.retention.days;
      this.o.log(`index: retention every ${every / 60_000} min: events ${d.events} d, alerts ${d.alerts} d, audit ${d.audit} d, ${this.o.retention.holds.length} legal holds (${this.o.retention.source})`);
      this.retain();
      this.retentionTimer = setInterval(() => this.retain(), every);
    }
  }

  /** One retention run, unless the previous one is still going; a failure is logged and retried next time. */
  private retain(): void {
    if (this.retentionRun || !this.o.retention) return;
    const src = { indexPrefix: this.prefix, deadletterIndex: this.deadletterIndex, alertIndex: this.alertIndex, auditIndex: this.auditIndex };
    this.retentionRun = runRetention(this.o.es, src, this.o.retention, { log: this.o.log })
      .then((r) => this.o.log(`index: retention run ${r.run_id}: deleted ${r.classes.map((c) => `${c.class} ${c.deleted}`).join(', ')}`))
      .catch((e: Error) => this.o.log(`index: retention run failed, will retry in the next interval: ${e.message}`))
      .finally(() => (this.retentionRun = undefined));
  }

  /** Finishes the jobs in hand, then stops. */
  async stop(): Promise<void> {
    clearInterval(this.retentionTimer);
    await this.retentionRun;
    // With Redis unreachable no batch can complete, and a graceful close waits for Redis forever.
    await this.worker?.close(this.connection.status !== 'ready');
    await this.sender?.close();
    await this.queue.close().catch(() => undefined);
    this.connection.disconnect();
    await this.metrics?.close();
  }

  /** An enforcement decision from a collector, into the audit index (its id makes a retry a 409). */
  private async audit(d: AuditJobData): Promise<undefined> {
    const trust = judgeRecord(d, d.record.host.name, this.enrolled);
    this.noteUntrusted(trust, d.record.host.name, d.record.host.bootId, 'audit record');
    await this.writeControl([{ index: this.auditIndex, id: d.id, doc: auditDocument(d.record, d.id, 'collector', trust) }]);
    this.c.audits.inc();
    return undefined;
  }

  /** Validates the job, then routes it; anything but an availability error dead-letters it at once. */
  private async handle(job: Job<unknown, BulkResult | undefined>): Promise<BulkResult | undefined> {
    try {
      const data = validateJob(job.data);
      return isCheckpoint(data) ? await this.checkpoint(data) : isAudit(data) ? await this.audit(data) : await this.process(data);
    } catch (e) {
      // Elasticsearch or Redis unavailable: BullMQ retries the job with backoff.
      if (isTransient(e)) throw e;
      await this.deadLetterJob(job, e as Error);
      return undefined;
    }
  }

  /**
   * A job that can never be indexed: stored whole in the dead-letter index with the reason, so it
   * is seen and kept, and completed (a retry could only fail the same way).
   */
  private async deadLetterJob(job: Job<unknown>, e: Error): Promise<void> {
    const d = (job.data ?? {}) as Partial<Record<'boot' | 'stream', unknown>>;
    const text = JSON.stringify(job.data) ?? String(job.data);
    const reason = `${e.name}: ${e.message}`.slice(0, 2000);
    await this.writeControl([
      {
        index: this.deadletterIndex,
        id: `job-${job.id}`,
        doc: {
          '@timestamp': new Date().toISOString(),
          target_index: `${this.prefix}-*`,
          error: { status: 0, type: 'invalid-job', reason },
          event: { id: `job-${job.id}` },
          filewarden: { ...(typeof d.boot === 'string' ? { boot_id: d.boot.slice(0, 128) } : {}), ...(typeof d.stream === 'string' ? { seq_stream: d.stream.slice(0, 128) } : {}) },
          // The job as it came, up to 1 MiB (an oversized one is cut, and says so).
          raw: { job_json: text.length > 1 << 20 ? text.slice(0, 1 << 20) : text, job_json_length: text.length, job_id: job.id, job_name: job.name },
        },
      },
    ]);
    this.c.poison.inc();
    this.o.log(`index: job ${job.id} can never be indexed; dead-lettered in ${this.deadletterIndex} as job-${job.id}: ${reason}`);
  }

  /** Logs an untrusted source once per host, stream and reason (the counters count every one). */
  private noteUntrusted(t: SourceTrust, host: string, boot: string, what: string): void {
    if (t.status === 'verified') return;
    if (what !== 'batch') this.c.untrustedRecords.inc();
    const k = `${host}\0${boot}\0${what}\0${t.reason}`;
    if (this.untrustedLogged.has(k) || this.untrustedLogged.size > 10_000) return;
    this.untrustedLogged.add(k);
    this.o.log(`index: untrusted ${what} from host ${JSON.stringify(host)} boot ${boot}: ${t.detail}; indexed and marked untrusted, never causes a command`);
  }

  /** Creates alert and audit documents; 409 means already written by an earlier attempt. */
  private async writeControl(docs: { index: string; id: string; doc: Record<string, unknown> }[]): Promise<void> {
    if (docs.length === 0) return;
    const r = await this.o.es.bulk({ operations: docs.flatMap((d) => [{ create: { _index: d.index, _id: d.id } }, d.doc]), filter_path: 'errors,items.*.status,items.*.error' });
    if (!r.errors) return;
    const bad = r.items.map((i) => Object.values(i)[0]!).filter((i) => i.status !== 409);
    if (!bad.length) return;
    const what = `alert/audit write failed: ${bad.map((b) => `${b.status} ${b.error?.reason ?? ''}`).join('; ')}`;
    // 429/5xx: Elasticsearch is overloaded or a shard is not there yet; the job is retried.
    if (bad.every((b) => b.status === 429 || b.status >= 500)) throw new RetryableBulkError(what);
    throw new Error(what);
  }

  /** Sends the kernel-scope rules to a host the first time this process sees a batch of its boot. */
  private async pushPolicy(d: EventDocument, issued: AuditRecord[]): Promise<void> {
    const host = d.host.id;
    if (!host || this.policySent.get(host) === d.host.boot.id) return;
    const body = await this.sender!.send({ idSeed: `${host}/${d.host.boot.id}/${this.policy.version}`, type: 'policy', host, policy: this.policy });
    this.policySent.set(host, d.host.boot.id);
    this.c.commands.inc();
    issued.push(this.issuedRecord(body, d, `policy ${this.policy.version}: ${this.policy.entries.length} entries`));
  }

  /**
   * One alert per host boot, stream and reason when a batch is not from an enrolled collector: the
   * security team learns that something feeds the queue that cannot be trusted (retries give 409).
   */
  private untrustedSourceAlert(data: BatchJobData, items: BulkItem[], trust: SourceTrust): { id: string; doc: Record<string, unknown> } {
    const first = items[0]!;
    const host = first.doc.host;
    const id = alertId(UNTRUSTED_SOURCE_RULE.id, `${host.name}/${data.boot}/${data.stream}/${trust.reason}`);
    const a: Alert = { id, rule: UNTRUSTED_SOURCE_RULE, trigger: { id: first.id, doc: first.doc, tsMs: first.tsMs, trusted: false }, eventIds: items.slice(0, 100).map((i) => i.id), count: items.length };
    return { id, doc: alertDocument(a, { action: 'none', status: 'none', reason: `${trust.reason}: ${trust.detail}` }, Date.now(), storedTrust(trust)) };
  }

  private issuedRecord(b: CommandBody, d: EventDocument, detail: string): AuditRecord {
    return {
      at: b.iat,
      host: { name: d.host.name, ...(d.host.id ? { id: d.host.id } : {}), bootId: d.host.boot.id },
      decision: 'issued',
      reason: 'ok',
      detail,
      command: { id: b.id, type: b.type, host: b.host, nonce: b.nonce, iat: b.iat, exp: b.exp, ...(b.alert ? { alert: b.alert } : {}), ...(b.rule ? { rule: b.rule } : {}) },
      ...(b.kill ? { target: { pid: b.kill.pid, start: b.kill.start } } : b.deny ? { target: { paths: b.deny.paths, ...(b.deny.executable ? { executable: b.deny.executable } : { comm: b.deny.comm }) } } : {}),
    };
  }

  /** What the alert's rule asks for, and what happened: a command sent, the kernel already acted, or why not. */
  private async enforce(a: Alert, issued: AuditRecord[], trust: SourceTrust): Promise<AlertEnforcement> {
    const r = a.rule;
    const d = a.trigger.doc;
    if (r.action === 'alert') return { action: 'none', status: 'none' };
    if (r.scope === 'kernel') {
      const acted = d.filewarden.action !== 'allow';
      return { action: r.action, scope: 'kernel', status: acted ? 'kernel-acted' : 'not-in-kernel', kernel_action: d.filewarden.action };
    }
    const base = { action: r.action, scope: 'on-alert' as const };
    const notSent = (reason: string): AlertEnforcement => ({ ...base, status: 'not-sent', reason });
    if (trust.status !== 'verified') return notSent(`untrusted source (${trust.reason}): ${trust.detail}; only a batch signed by an enrolled collector key, whose events match their signed digests, causes a command`);
    // A command acts on a live process or path now: evidence older than a command may live (a
    // replayed batch, or one held up by an outage) sends none, so a replay cannot repeat a kill or a deny.
    const age = Date.now() - a.trigger.tsMs;
    if (age > MAX_LIFETIME_MS) return notSent(`the event is ${Math.round(age / 1000)} s old, older than a command may live (${MAX_LIFETIME_MS / 1000} s): a late or replayed batch causes no command`);
    const hostId = this.enrolled.hostIdCheck(d.host.name, d.host.id);
    if (hostId) return notSent(hostId);
    if (!d.host.id) return notSent('the host has no host.id to address a command to');
    if (d.filewarden.action === 'kill') return { ...notSent('the kernel policy already killed the process'), kernel_action: 'kill' };
    let body: CommandBody;
    if (r.action === 'kill') {
      const start = d.filewarden.process_start_ticks;
      if (start === undefined) return notSent('the process had exited before the collector could read its start time');
      body = await this.sender!.send({ idSeed: a.id, type: 'kill', host: d.host.id, alert: a.id, rule: r.id, kill: { pid: d.process.pid, start, boot: d.host.boot.id } });
      issued.push(this.issuedRecord(body, d, `kill ${d.process.pid} (${d.process.name}) for alert ${a.id}`));
    } else {
      // The loader refuses a deny rule whose paths are not all prefixes.
      const paths = pathPrefixes(r.match);
      const who = d.process.executable ? { executable: d.process.executable } : { comm: d.process.name };
      body = await this.sender!.send({ idSeed: a.id, type: 'deny', host: d.host.id, alert: a.id, rule: r.id, deny: { paths, ...who } });
      issued.push(this.issuedRecord(body, d, `deny ${paths.join(', ')} to ${who.executable ?? who.comm} for alert ${a.id}`));
    }
    this.c.commands.inc();
    return { ...base, status: 'command-sent', command_id: body.id };
  }

  /** Keeps the highest number per stream (external versioning refuses a lower one with 409), and the heartbeat. */
  private async checkpoint(d: CheckpointJobData): Promise<undefined> {
    const trust = judgeRecord(d, d.host, this.enrolled);
    this.noteUntrusted(trust, d.host, d.boot, 'checkpoint');
    const t = storedTrust(trust);
    if (d.hb) {
      const h = d.hb;
      await this.writeControl([
        {
          index: this.checkpointIndex,
          id: `hb-${d.boot}-${h.run}-${h.at}`,
          doc: { '@timestamp': new Date(h.at).toISOString(), host: { name: d.host }, filewarden: { boot_id: d.boot, seq_stream: d.stream, heartbeat: { run: h.run, interval_ms: h.intervalMs, kernel_dropped: h.kernelDropped, args_lost: h.argsLost, spool_dropped: h.spoolDropped }, trust: t } },
        },
      ]);
    }
    if (trust.status !== 'verified') {
      // Kept as evidence of the claim, under a field no reader takes as a stream's number.
      if (d.assigned > 0) {
        await this.writeControl([
          { index: this.checkpointIndex, id: `untrusted-${d.boot}-${d.stream}-${d.assigned}`, doc: { '@timestamp': new Date().toISOString(), host: { name: d.host }, filewarden: { boot_id: d.boot, seq_stream: d.stream, claimed_seq_assigned: d.assigned, trust: t } } },
        ]);
      }
      this.c.checkpoints.inc();
      return undefined;
    }
    if (d.assigned === 0) {
      this.c.checkpoints.inc();
      return undefined;
    }
    try {
      await this.o.es.index({
        index: this.checkpointIndex,
        id: `${d.boot}-${d.stream}`,
        version: d.assigned,
        version_type: 'external_gte',
        document: { '@timestamp': new Date().toISOString(), host: { name: d.host }, filewarden: { boot_id: d.boot, seq_stream: d.stream, seq_assigned: d.assigned, trust: t } },
      });
    } catch (e) {
      if ((e as { meta?: { statusCode?: number } }).meta?.statusCode !== 409) throw e;
    }
    this.c.checkpoints.inc();
    return undefined;
  }

  /**
   * A batch's documents, checked, with their parsed view. Version 2 carries the collector's lines;
   * a version-1 batch (a collector before the contract) has its lines built here, once, with the
   * same builder. A batch that cannot be read at all is the batch's own problem (WireError: handle()
   * dead-letters the job); a line that fails its checks is refused alone, and the rest go on.
   */
  private arrived(data: BatchJobData): { lines: string[]; items: BulkItem[]; refused: RefusedLine[] } {
    const now = Date.now();
    const lines = data.v === 1 ? v1DocumentLines(decodeBatch(data, wireBatchCheck(now)), data.stream, abiOf(process.arch), V1_NAMING) : decodeDocuments(data);
    const check = documentCheck(data.boot, data.stream, now);
    const items: BulkItem[] = [];
    const refused: RefusedLine[] = [];
    let host: EventDocument['host'] | undefined;
    for (let i = 0; i < lines.length; i++) {
      const seq = data.first + i;
      let doc: EventDocument;
      let tsMs: number;
      try {
        ({ doc, tsMs } = check(lines[i]!, seq));
        // One host per batch: the trust verdict, the rules and any command are the batch's host's.
        host ??= doc.host;
        if (doc.host.name !== host.name || doc.host.id !== host.id) throw new WireError(`batch: the document of seq ${seq} is of host ${JSON.stringify(doc.host.name)}, not the batch's ${JSON.stringify(host.name)}`);
      } catch (e) {
        if (!(e instanceof WireError)) throw e;
        refused.push({ seq, line: lines[i]!, reason: e.message });
        continue;
      }
      doc.event.sequence = seq;
      doc.filewarden.seq = seq;
      // `stored` is the collector's line until the trust verdict places it (process()).
      items.push({ index: `${this.prefix}-${dayOf(doc['@timestamp'])}`, id: doc.event.id!, stored: lines[i]!, doc, tsMs, seq, stream: data.stream, bootId: data.boot });
    }
    return { lines, items, refused };
  }

  /** Lines refused at the door, each in the dead-letter index with its exact bytes and the reason (a retry gives 409). */
  private async deadLetterLines(data: BatchJobData, refused: RefusedLine[]): Promise<void> {
    if (refused.length === 0) return;
    const now = new Date().toISOString();
    await this.writeControl(
      refused.map((r) => {
        let document: unknown;
        try {
          document = JSON.parse(r.line);
        } catch {
          document = undefined;
        }
        const id = `invalid-${data.boot}-${data.stream}-${r.seq}`;
        return {
          index: this.deadletterIndex,
          id,
          doc: {
            '@timestamp': now,
            target_index: `${this.prefix}-*`,
            error: { status: 0, type: 'invalid-document', reason: r.reason.slice(0, 2000) },
            event: { id },
            filewarden: { seq: r.seq, seq_stream: data.stream, boot_id: data.boot },
            raw: { line: r.line, ...(document !== null && typeof document === 'object' && !Array.isArray(document) ? { document } : {}) },
          },
        };
      }),
    );
    this.c.deadLettered.inc(refused.length);
    this.o.log(`index: ${refused.length} document(s) of batch ${data.boot}/${data.stream}/${data.first} refused and dead-lettered in ${this.deadletterIndex}, the rest indexed; first: ${refused[0]!.reason}`);
  }

  private async process(data: BatchJobData): Promise<BulkResult> {
    const { lines, items, refused } = this.arrived(data);
    await this.deadLetterLines(data, refused);
    if (items.length === 0) {
      this.c.batches.inc();
      return { indexed: 0, duplicates: 0, deadLettered: refused.length, retried: 0 };
    }
    // The link and its signer for every batch; the events' digests only for a batch that could
    // cause a command, before any rule runs (so only verified events count towards a rule that can
    // act, threshold windows included). verify recomputes every digest later in any case. The
    // verdict is added to the documents after.
    let trust = judgeLink(data, items[0]!.doc.host.name, this.enrolled);
    const first = items[0]!.doc;
    const docs = items.map((i) => i.doc);
    const policyDue = this.sender !== undefined && this.policy.entries.length > 0 && first.host.id !== undefined && this.policySent.get(first.host.id) !== first.host.boot.id;
    if (trust.status === 'signed' && (policyDue || (this.sender !== undefined && this.engine.matchesEnforcing(docs)))) trust = verifyDigests(trust, data, lines);
    const alerts = this.engine.size ? await this.engine.evaluate(items.map((i) => ({ id: i.id, doc: i.doc, tsMs: i.tsMs, trusted: trust.status !== 'untrusted' }))) : [];
    const stored = storedTrust(trust);
    for (const i of items) {
      i.stored = placeDocument(i.stored, i.seq, stored);
      i.doc.filewarden.trust = stored;
    }
    if (trust.status === 'untrusted') {
      this.c.untrustedEvents.inc(items.length);
      this.noteUntrusted(trust, first.host.name, data.boot, 'batch');
    }
    const issued: AuditRecord[] = [];
    if (trust.status === 'verified' && policyDue && this.enrolled.hostIdCheck(first.host.name, first.host.id) === undefined) await this.pushPolicy(first, issued);
    const alertDocs = [];
    for (const a of alerts) alertDocs.push({ id: a.id, doc: alertDocument(a, await this.enforce(a, issued, trust), Date.now(), stored) });
    if (trust.status === 'untrusted' && this.engine.size) alertDocs.push(this.untrustedSourceAlert(data, items, trust));
    const r = await this.writer.write(items);
    await this.writeControl([
      ...alertDocs.map((a) => ({ index: this.alertIndex, id: a.id, doc: a.doc })),
      ...issued.map((rec) => ({ index: this.auditIndex, id: `issued-${rec.command.id}`, doc: auditDocument(rec, `issued-${rec.command.id}`, 'indexer') })),
      // An untrusted batch's link is not stored under the link's id: it could take the id of the
      // genuine link still to come (verify reports the untrusted events as unchained instead).
      ...(data.chain && trust.status !== 'untrusted' ? [{ index: this.auditIndex, id: chainRecordId(data), doc: chainDocument(data, data.chain, hostOf(items)) }] : []),
    ]);
    this.c.alerts.inc(alerts.length);
    const now = Date.now();
    for (const i of items) this.c.latency.observe((now - i.tsMs) / 1000);
    this.c.indexed.inc(r.indexed);
    this.c.duplicates.inc(r.duplicates);
    this.c.deadLettered.inc(r.deadLettered);
    r.deadLettered += refused.length;
    this.c.retried.inc(r.retried);
    this.c.batches.inc();
    return r;
  }
}
