// The host agent: capture -> sequence -> enrich -> batch -> Redis (or the disk spool), with
// Prometheus counters for every stage and a shutdown that flushes everything it has read.
import crypto, { type KeyObject } from 'node:crypto';
import path from 'node:path';
import { Gauge, Registry } from 'prom-client';
import type { BatchHost } from '../../../contract/src/batch-host';
import { signRecord } from '../../../contract/src/chain';
import { COLLECTOR_DEFAULTS } from '../../../contract/src/collector-defaults';
import type { CapturedEvent } from '../../../contract/src/event';
import { abiOf } from '../../../contract/src/tables';
import { type AuditRecord, BATCH_TEXT_BUDGET, type CheckpointJobData, RECORD_VERSION } from '../../../contract/src/wire';
import { BatchBuilder } from '../batch/batch-builder';
import { Sequencer } from '../batch/sequencer';
import type { Capture, CaptureOptions, CaptureStats } from '../capture/capture';
import { forgetPinnedCapture, openCapture, recordSpoolDropped } from '../capture/pinned-capture';
import { AccountNames } from '../enrich/account-names';
import { hostIdentity } from '../enrich/host-identity';
import { ProcessInfoReader } from '../enrich/process-info';
import { auditId, Enforcer } from '../enforce/enforcer';
import { HashChain, loadOrCreateHostKey } from '../integrity/hash-chain';
import { mirroredCounter, serveMetrics, type MetricsServer } from '../../../stack/src/metrics-server';
import { EventQueue } from '../queue/event-queue';
import { Shipper } from '../queue/shipper';
import { DiskSpool } from '../spool/disk-spool';
import { redactUrl } from '../../../stack/src/redact';
import { lockStateDir, type StateLock } from './state-lock';

export interface CollectorAgentOptions {
  capture: CaptureOptions;
  redisUrl: string;
  /** Holds sequence.json and spool/. */
  stateDir: string;
  /** @defaultValue 'filewarden-events' */
  queue?: string;
  /** A batch is sent when it holds this many events... @defaultValue 2000 */
  batchEvents?: number;
  /** ...or when its oldest event is this old. @defaultValue 200 */
  batchDelayMs?: number;
  /** @defaultValue 1 GiB */
  spoolMaxBytes?: number;
  /** Port for GET /metrics; 0 picks a free one. @defaultValue 9464 */
  metricsPort?: number;
  /** @defaultValue '127.0.0.1' */
  metricsHost?: string;
  /** How often a checkpoint (the highest number given out, and a heartbeat) is sent. @defaultValue 10000 */
  checkpointMs?: number;
  /**
   * The indexer's Ed25519 public key: with it the collector takes signed enforcement commands from
   * the queue commands-<host.id>. @defaultValue none (no remote enforcement)
   */
  commandPublicKey?: KeyObject;
  /**
   * Sign each batch into the stream's hash chain (docs/compliance.md). Off saves about 28 µs of CPU
   * per event (bench:pipeline); verify then reports this host's streams as unchained.
   * @defaultValue true
   */
  chain?: boolean;
  /**
   * host.name and host.id instead of the kernel's node name and /etc/machine-id: hosts cloned from one
   * image that share a machine id, or several collectors on one host (each with its own state
   * directory and cgroup filter). @defaultValue the host's own
   */
  hostName?: string;
  hostId?: string;
  /** A batch counts as acknowledged only once this many Redis replicas have it (EventQueue). @defaultValue 0 */
  redisWaitReplicas?: number;
  /** @defaultValue 1000 */
  redisWaitMs?: number;
  /** Pin the capture in bpffs so it records while the collector is down (pinned-capture.ts). @defaultValue true */
  pin?: boolean;
  log(line: string): void;
}

export class EnforcementSetupError extends Error {
  override readonly name = 'EnforcementSetupError';
}

/**
 * Node flags the collector is launched with (`filewarden up`, the systemd unit, the image, the
 * benchmarks): a small young generation. Batches stay alive across many scavenges while the hash
 * chain allocates fast, and V8 would otherwise grow the young generation to 48 MiB; with the cap the
 * collector's RSS under load drops from 174 to 139-149 MiB and bench:pipeline gets faster, not slower.
 */
export const COLLECTOR_NODE_FLAGS = ['--max-semi-space-size=2'];

/** How long stop() waits for the command worker: BullMQ's close waits for Redis, however long it is away. */
const ENFORCER_STOP_MS = 5000;

/** " (spool full)", " (spool unwritable)", or both with their counts; nothing when none was dropped. */
function dropCauses(s: ReturnType<Shipper['stats']>): string {
  const causes = [
    [s.eventsDroppedSpoolFull, 'spool full'],
    [s.eventsDroppedSpoolUnwritable, 'spool unwritable'],
  ] as const;
  const present = causes.filter(([n]) => n > 0);
  if (present.length === 0) return '';
  if (present.length === 1) return ` (${present[0][1]})`;
  return ` (${present.map(([n, why]) => `${why} ${n}`).join(', ')})`;
}

export class CollectorAgent {
  readonly registry = new Registry();
  private capture!: Capture;
  private readonly sequencer: Sequencer;
  private readonly queue: EventQueue;
  private readonly spool: DiskSpool;
  private readonly shipper: Shipper;
  private readonly host: BatchHost;
  private readonly accounts = new AccountNames();
  private readonly procs = new ProcessInfoReader();
  private metrics: MetricsServer | undefined;
  private readonly batch: BatchBuilder;
  /** When the events in hand were delivered (ms): the clock account names expire by. */
  private deliveredAt = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private sequenced = 0;
  private checkpointTimer: NodeJS.Timeout | undefined;
  private enforcer: Enforcer | undefined;
  private audits = 0;
  /** Signs checkpoints, heartbeats and audit records always; batches only with the chain on. */
  private readonly hostKey: { privateKey: KeyObject; publicKey: KeyObject };
  private readonly run = crypto.randomBytes(6).toString('hex');
  /** Heartbeats carry the counters under the capture's id, which a pinned capture keeps across
   * collectors: the kernel's carry on, and the spool's are added to those of the collectors before. */
  private captureRun = this.run;
  private spoolDroppedBefore = 0;
  private pinned = false;
  private readonly lock: StateLock;
  private readonly o: Required<Omit<CollectorAgentOptions, 'log' | 'capture' | 'redisUrl' | 'stateDir' | 'commandPublicKey' | 'chain' | 'pin' | 'hostName' | 'hostId' | 'redisWaitReplicas' | 'redisWaitMs'>>;

  constructor(private readonly opts: CollectorAgentOptions) {
    // Before anything reads or writes the state: a second collector here would reuse sequence numbers.
    // Released by stop(), or at exit when the constructor or start() throws.
    this.lock = lockStateDir(opts.stateDir);
    this.o = {
      queue: opts.queue ?? 'filewarden-events',
      batchEvents: opts.batchEvents ?? COLLECTOR_DEFAULTS.batchEvents,
      batchDelayMs: opts.batchDelayMs ?? COLLECTOR_DEFAULTS.batchDelayMs,
      spoolMaxBytes: opts.spoolMaxBytes ?? COLLECTOR_DEFAULTS.spoolMaxBytes,
      metricsPort: opts.metricsPort ?? COLLECTOR_DEFAULTS.metricsPort,
      metricsHost: opts.metricsHost ?? COLLECTOR_DEFAULTS.metricsHost,
      checkpointMs: opts.checkpointMs ?? COLLECTOR_DEFAULTS.checkpointMs,
    };
    const own = hostIdentity();
    const id = { ...own, name: opts.hostName ?? own.name, id: opts.hostId ?? own.id };
    this.host = { name: id.name, bootId: id.bootId, ...(id.id ? { id: id.id } : {}) };
    this.sequencer = new Sequencer(opts.stateDir, id.bootId);
    const start = this.sequencer.start;
    if (start.unacked) {
      opts.log(
        `sequence: the previous run of boot ${id.bootId} stopped without acknowledging seq ${start.unacked.from}..${start.unacked.to} ` +
          `(${start.unacked.to - start.unacked.from + 1} events lost); continuing at ${this.sequencer.assigned + 1}`,
      );
    } else if (start.resumed) {
      opts.log(`sequence: continuing boot ${id.bootId} at seq ${this.sequencer.assigned + 1}`);
    } else {
      opts.log(`sequence: new stream ${this.sequencer.stream} for boot ${id.bootId}`);
    }
    const key = loadOrCreateHostKey(opts.stateDir);
    this.hostKey = key;
    let chain: HashChain | undefined;
    if (opts.chain ?? true) {
      chain = new HashChain(opts.stateDir, id.bootId, this.sequencer.stream, key.privateKey, key.publicKey);
      opts.log(`chain: batches signed with ${key.created ? 'new ' : ''}host key ${chain.key} (${key.pubFile} is the key verify --trusted-keys pins)`);
    } else {
      opts.log(`chain: off (--no-chain): batches are not signed, and verify reports this host as unchained; checkpoints are still signed with host key ${key.pubFile}`);
    }
    // Account names are looked up per event; the clock they expire by is read once per delivery.
    this.batch = new BatchBuilder(this.host, this.sequencer.stream, abiOf(process.arch), {
      proc: (pid) => this.procs.info(pid),
      userName: (uid) => this.accounts.userName(uid, this.deliveredAt),
      groupName: (gid) => this.accounts.groupName(gid, this.deliveredAt),
    }, chain);
    this.queue = new EventQueue({ redisUrl: opts.redisUrl, queue: this.o.queue, waitReplicas: opts.redisWaitReplicas, waitMs: opts.redisWaitMs });
    this.spool = new DiskSpool(path.join(opts.stateDir, 'spool'), this.o.spoolMaxBytes);
    this.shipper = new Shipper(this.queue, this.spool, {
      acked: (last) => this.sequencer.ack(last),
      dropped: () => {
        // Kept with the pinned capture first: the next collector on it counts on from there.
        if (this.pinned) recordSpoolDropped(opts.stateDir, this.spoolDroppedBefore + this.shipper.stats().eventsDropped);
        this.checkpoint();
      },
      log: opts.log,
    });
    if (opts.commandPublicKey && !id.id) throw new EnforcementSetupError('enforcement commands are addressed by host.id, and this host has no /etc/machine-id');
    this.defineMetrics();
  }

  /** Loads the probe and starts shipping; resolves once events flow and /metrics answers. */
  async start(): Promise<void> {
    try {
      this.metrics = await serveMetrics(this.registry, this.o.metricsPort, this.o.metricsHost);
      // A moment for Redis to answer, so the first batches need not go through the spool.
      await this.queue.ready(2000);
      const opened = await openCapture({
        stateDir: this.opts.stateDir,
        bootId: this.host.bootId,
        capture: {
          onPolicyRefreshError: (m) => this.opts.log(`enforce: the policy's re-translation was refused, the previous one stays in force: ${m}`),
          onDecodeError: (m) => this.opts.log(`collect: a batch from the kernel could not be decoded: ${m}`),
          ...this.opts.capture,
        },
        pin: this.opts.pin,
        newId: this.run,
        onEvents: (events, numbered) => this.onEvents(events, numbered),
        log: this.opts.log,
      });
      // The counters are per capture: a replaced one's last values go out under its id.
      if (opened.ended) this.checkpoint(opened.ended);
      this.capture = opened.capture;
      this.captureRun = opened.captureId;
      this.spoolDroppedBefore = opened.spoolDroppedBefore;
      this.pinned = opened.pinned;
    } catch (e) {
      // Nothing was read from the kernel: close what is open so the process can exit with the error.
      await this.shipper.close();
      await this.queue.close();
      await this.metrics?.close();
      this.lock.release();
      throw e;
    }
    // The previous run's last numbers may all be lost (a crash): say how far it got, and that this run is alive.
    this.checkpoint();
    const c = this.capture.choice;
    this.opts.log(`collect: hook ${c.hook}${c.requested === 'auto' ? ' (auto)' : ''}: ${this.capture.attached().join(', ')}`);
    for (const s of c.skipped) this.opts.log(`collect: skipped ${s.hook}: ${s.reason}`);
    const ops = this.capture.operationEnforcement();
    if (ops) this.opts.log(`collect: ${ops}`);
    this.opts.log(`collect: queue ${this.o.queue} at ${redactUrl(this.opts.redisUrl)}; spool ${this.spool.dir}; metrics ${this.metrics.url}`);
    this.checkpointTimer = setInterval(() => this.checkpoint(), this.o.checkpointMs);
    if (this.opts.commandPublicKey) {
      const p = this.opts.capture.policy;
      const baseEntries = [
        ...(p?.denyPaths ?? []).map((path) => ({ path, action: 'deny' as const })),
        ...(p?.killPaths ?? []).map((path) => ({ path, action: 'kill' as const })),
        ...(p?.entries ?? []),
      ];
      this.enforcer = new Enforcer({
        redisUrl: this.opts.redisUrl,
        publicKey: this.opts.commandPublicKey,
        host: { name: this.host.name, id: this.host.id!, bootId: this.host.bootId },
        stateDir: this.opts.stateDir,
        target: this.capture,
        baseEntries,
        audit: (record) => this.audit(record),
        log: this.opts.log,
      });
      this.enforcer.start();
    } else {
      this.opts.log('collect: remote enforcement off (no --command-pubkey)');
    }
  }

  /** Ships an audit record behind the batches already handed over. */
  private audit(record: AuditRecord): void {
    this.audits++;
    this.shipper.ship(signRecord({ v: RECORD_VERSION, kind: 'audit' as const, id: auditId(), record }, this.hostKey.privateKey, this.hostKey.publicKey)).catch((e: Error) => this.opts.log(`queue: unexpected error: ${e.stack ?? e.message}`));
  }

  /** Detaches the probe, ships every event read so far (to Redis or the spool), then closes. */
  async stop(): Promise<void> {
    clearInterval(this.checkpointTimer);
    await this.stopEnforcer();
    await this.capture?.close();
    if (this.pinned) forgetPinnedCapture(this.opts.stateDir);
    this.flush();
    this.checkpoint();
    await this.shipper.close();
    await this.queue.close();
    await this.metrics?.close();
    const s = this.shipper.stats();
    const k = this.capture?.stats();
    this.opts.log(
      `collect: stopped at seq ${this.sequencer.assigned}; queued ${s.eventsQueued}, spooled ${s.eventsSpooled} (left in spool ${this.spool.stats().events}), ` +
        `dropped ${s.eventsDropped}${dropCauses(s)}${k ? `, kernel dropped ${k.dropped} (ring buffer full)` : ''}`,
    );
    this.lock.release();
  }

  /** What a stop cut short would leave undone, for the message when it does not finish in time. */
  unfinished(): string {
    const left = this.sequencer.assigned - this.sequencer.acked;
    return left > 0
      ? `events seq ${this.sequencer.acked + 1}..${this.sequencer.assigned} are neither in Redis nor in the spool; the next start reports them as lost`
      : 'every event read is in Redis or in the spool';
  }

  /**
   * Stops taking commands. BullMQ's worker close waits for its fetch loop, which waits for Redis
   * however long it is away; no command is in hand then, so the wait is cut short.
   */
  private async stopEnforcer(): Promise<void> {
    if (!this.enforcer) return;
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      this.enforcer.stop().then(() => true),
      new Promise<false>((r) => (timer = setTimeout(() => r(false), ENFORCER_STOP_MS))),
    ]);
    clearTimeout(timer);
    if (!closed) this.opts.log(`enforce: the command worker did not close within ${ENFORCER_STOP_MS / 1000} s (Redis unreachable?); stopping without it`);
  }

  private onEvents(events: CapturedEvent[], numbered: () => void): void {
    // Numbers are reserved on disk before use: a crash from here on is a reported gap, not a silent one.
    const first = this.sequencer.assign(events.length);
    // And before anything ships, the kernel may reuse their ring space: a crash after this point is
    // never followed by the same records read again under new numbers.
    numbered();
    this.sequenced += events.length;
    this.procs.reset();
    this.deliveredAt = Date.now();
    for (let i = 0; i < events.length; i++) {
      if (this.batch.size === 0) this.timer = setTimeout(() => this.flush(), this.o.batchDelayMs);
      this.batch.add(events[i]!, first + i);
      if (this.batch.size >= this.o.batchEvents || this.batch.textLength >= BATCH_TEXT_BUDGET) this.flush();
    }
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const data = this.batch.take();
    if (data) this.shipper.ship(data).catch((e: Error) => this.opts.log(`queue: unexpected error: ${e.stack ?? e.message}`));
  }

  /**
   * Sends "every number up to `assigned` was given out" behind the batches already handed over,
   * with a heartbeat: one every interval, and one after a drop, at start and at stop.
   */
  private checkpoint(of?: { captureId: string; stats: CaptureStats; spoolDropped: number }): void {
    const assigned = this.sequencer.assigned;
    const k = of ? of.stats : this.capture?.stats();
    const spoolDropped = of ? of.spoolDropped : this.spoolDroppedBefore + this.shipper.stats().eventsDropped;
    const hb = { run: of ? of.captureId : this.captureRun, at: Date.now(), intervalMs: this.o.checkpointMs, kernelDropped: k?.dropped ?? 0, argsLost: k?.argsLost ?? 0, spoolDropped };
    const d: CheckpointJobData = signRecord({ v: RECORD_VERSION, kind: 'checkpoint' as const, boot: this.host.bootId, stream: this.sequencer.stream, assigned, host: this.host.name, hb }, this.hostKey.privateKey, this.hostKey.publicKey);
    this.shipper.ship(d).catch((e: Error) => this.opts.log(`queue: unexpected error: ${e.stack ?? e.message}`));
  }

  private defineMetrics(): void {
    const r = this.registry;
    const k = (f: (s: ReturnType<Capture['stats']>) => number) => () => (this.capture ? f(this.capture.stats()) : 0);
    mirroredCounter(r, 'filewarden_kernel_events_seen_total', 'opens the hook saw (before filters)', k((s) => s.seen));
    mirroredCounter(r, 'filewarden_kernel_events_filtered_total', 'opens dropped by the in-kernel filters', k((s) => s.filtered));
    mirroredCounter(r, 'filewarden_kernel_events_emitted_total', 'events written to the ring buffer', k((s) => s.emitted));
    mirroredCounter(r, 'filewarden_kernel_events_dropped_total', 'events lost because the ring buffer was full', k((s) => s.dropped));
    mirroredCounter(r, 'filewarden_kernel_args_lost_total', 'syscall entries whose arguments were lost (pending map full)', k((s) => s.argsLost));
    mirroredCounter(r, 'filewarden_events_filtered_user_total', 'events dropped by the user-space half of the path filter', k((s) => s.filteredUser));
    mirroredCounter(r, 'filewarden_events_unresolved_total', 'relative names whose process was gone before resolution', k((s) => s.unresolved));
    mirroredCounter(r, 'filewarden_events_host_path_total', 'events of a process in another mount namespace or under chroot given a host path (filewarden.path.host)', k((s) => s.hostPathed));
    mirroredCounter(r, 'filewarden_events_host_path_missing_total', 'events of a process in another mount namespace or under chroot without a host path (see filewarden.path.host_status)', k((s) => s.hostPathMissing));
    mirroredCounter(r, 'filewarden_policy_watch_refreshes_total', 'policy refreshes started at once because a file protected by inode changed under its name', k((s) => s.policyWatchRefreshes));
    mirroredCounter(r, 'filewarden_policy_refresh_failures_total', 'policy re-translations (a mount or a protected file changed) the kernel refused; the previous policy stays in force', k((s) => s.policyRefreshFailures));
    mirroredCounter(r, 'filewarden_events_proc_resolved_total', 'names the kernel could not resolve, joined in user space from /proc (the flagged last resort)', k((s) => s.procResolved));
    mirroredCounter(r, 'filewarden_events_sequenced_total', 'events given a sequence number by this run', () => this.sequenced);
    const sh = (f: (s: ReturnType<Shipper['stats']>) => number) => () => f(this.shipper.stats());
    mirroredCounter(r, 'filewarden_events_queued_total', 'events added to Redis (directly or from the spool)', sh((s) => s.eventsQueued));
    mirroredCounter(r, 'filewarden_batches_queued_total', 'batches (jobs) added to Redis', sh((s) => s.batchesQueued));
    mirroredCounter(r, 'filewarden_events_spooled_total', 'events written to the disk spool while Redis was unreachable', sh((s) => s.eventsSpooled));
    mirroredCounter(r, 'filewarden_spool_replayed_events_total', 'spooled events later added to Redis', sh((s) => s.eventsReplayed));
    mirroredCounter(r, 'filewarden_redis_replica_wait_shortfalls_total', 'adds that fewer Redis replicas than --redis-wait-replicas had in time: spooled, not acknowledged', () => this.queue.replicaWaitShortfalls);
    mirroredCounter(r, 'filewarden_spool_dropped_events_total', 'events lost because Redis did not take them and the spool was full or unwritable', sh((s) => s.eventsDropped));
    mirroredCounter(r, 'filewarden_spool_unwritable_dropped_events_total', 'of those, events lost because writing to the spool failed (disk full, read-only)', sh((s) => s.eventsDroppedSpoolUnwritable));
    mirroredCounter(r, 'filewarden_enforcement_audit_records_total', 'enforcement commands decided (applied or refused), each shipped as an audit record', () => this.audits);
    mirroredCounter(r, 'filewarden_process_info_unavailable_total', 'processes gone before executable and args could be read', () => this.procs.unavailable);
    const gauge = (name: string, help: string, read: () => number): void =>
      void new Gauge({ name, help, registers: [r], collect() { this.set(read()); } });
    gauge('filewarden_spool_events', 'events waiting in the disk spool', () => this.spool.stats().events);
    gauge('filewarden_spool_bytes', 'bytes used by the disk spool', () => this.spool.stats().bytes);
    gauge('filewarden_redis_up', '1 when the Redis connection is ready', () => (this.queue.connected ? 1 : 0));
    gauge('filewarden_seq_assigned', 'highest sequence number given to an event in this boot', () => this.sequencer.assigned);
    gauge('filewarden_seq_acked', 'every event up to this sequence number is in Redis, in the spool, or counted as dropped', () => this.sequencer.acked);
    const lost = this.sequencer.start.unacked;
    gauge('filewarden_seq_lost_at_start', 'events the previous run of this boot sequenced but never acknowledged', () => (lost ? lost.to - lost.from + 1 : 0));
  }
}
