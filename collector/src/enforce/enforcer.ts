// The host end of the enforcement channel: takes signed commands from this host's queue, refuses
// forged, replayed, expired and misaddressed ones, applies the rest (kill, deny, policy), and turns
// every decision, applied or refused, into an audit record for Elasticsearch.
import crypto, { type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type Job, Worker } from 'bullmq';
import type IORedis from 'ioredis';
import { connectRedis } from '../../../stack/src/redis-connect';
import type { AuditRecord } from '../../../contract/src/wire';
import { writeFileAtomic } from '../../../stack/src/atomic-write';
import { native, type PolicyEntry } from '../probe/native';
import { kernelDev } from '../resolve/host-path';
import { commandQueueName, QUEUE_PREFIX } from '../../../contract/src/queue';
import { ReplayGuard } from './replay-guard';
import { type CommandBody, verifyCommand, type WirePolicyEntry } from '../../../contract/src/command';

/** What the enforcer drives: the running capture's in-kernel policy and kill-target list. */
export interface EnforcementTarget {
  setPolicy(entries: PolicyEntry[]): void;
  addKillTarget(pid: number, startTicks: number): void;
  removeKillTarget(pid: number): boolean;
}


export interface EnforcerOptions {
  redisUrl: string;
  publicKey: KeyObject;
  host: { name: string; id: string; bootId: string };
  stateDir: string;
  target: EnforcementTarget;
  /** Entries given at start (--deny-path, --kill-path): always part of the policy. */
  baseEntries: PolicyEntry[];
  audit(record: AuditRecord): void;
  log(line: string): void;
}

interface SavedState {
  policy?: { version: string; entries: WirePolicyEntry[] };
  denies: WirePolicyEntry[];
}

/** A wire entry as the kernel takes it; an executable is named by device and inode. */
export function resolveEntry(e: WirePolicyEntry): PolicyEntry {
  const out: PolicyEntry = { path: e.path, action: e.action };
  // Names the kernel does not know are refused there (native: entries[i].ops), with the command.
  if (e.ops !== undefined) out.ops = e.ops as PolicyEntry['ops'];
  if (e.comm !== undefined) out.comm = e.comm;
  if (e.executable !== undefined) {
    const st = fs.statSync(e.executable, { bigint: true });
    out.exe = { dev: kernelDev(st.dev), ino: st.ino };
  }
  return out;
}

export class Enforcer {
  private worker: Worker | undefined;
  private readonly connection: IORedis;
  private readonly guard: ReplayGuard;
  private readonly stateFile: string;
  private state: SavedState = { denies: [] };
  readonly queueName: string;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly o: EnforcerOptions) {
    this.queueName = commandQueueName(o.host.id);
    this.guard = new ReplayGuard(o.stateDir);
    this.stateFile = path.join(o.stateDir, 'enforcement.json');
    try {
      this.state = JSON.parse(fs.readFileSync(this.stateFile, 'utf8')) as SavedState;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read ${this.stateFile}: ${(e as Error).message}`);
    }
    this.connection = connectRedis(o.redisUrl, { maxRetriesPerRequest: null });
    this.connection.on('error', () => undefined);
  }

  /** Re-applies the saved policy and denies, then listens for commands. */
  start(): void {
    if (this.state.policy || this.state.denies.length) {
      const skipped = this.applyPolicy();
      this.o.log(`enforce: restored policy ${this.state.policy?.version ?? '(none)'} and ${this.state.denies.length} deny entries${skipped.length ? `; skipped: ${skipped.join('; ')}` : ''}`);
    }
    this.worker = new Worker(this.queueName, (job: Job) => this.handle(job.data), { connection: this.connection, prefix: QUEUE_PREFIX, concurrency: 1 });
    this.worker.on('error', (e) => this.o.log(`enforce: worker error: ${e.message}`));
    this.o.log(`enforce: taking signed commands from queue ${this.queueName}`);
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    await this.worker?.close();
    this.connection.disconnect();
  }

  private record(r: Omit<AuditRecord, 'at' | 'host'>): void {
    this.o.audit({ at: Date.now(), host: { name: this.o.host.name, id: this.o.host.id, bootId: this.o.host.bootId }, ...r });
  }

  private commandFacts(b: Partial<CommandBody> | undefined): AuditRecord['command'] {
    if (!b) return {};
    const keys = ['id', 'type', 'host', 'nonce', 'iat', 'exp', 'alert', 'rule'] as const;
    return Object.fromEntries(keys.filter((k) => b[k] !== undefined).map((k) => [k, b[k]])) as AuditRecord['command'];
  }

  /** Decides on one command; never throws (a throw would make BullMQ retry a refused command). */
  async handle(data: unknown): Promise<string> {
    const now = Date.now();
    const v = verifyCommand(data, this.o.publicKey, this.o.host.id, now);
    if (!v.ok) {
      this.record({ decision: 'refused', reason: v.reason, detail: v.detail, command: this.commandFacts(v.body) });
      this.o.log(`enforce: refused a command (${v.reason}): ${v.detail}`);
      return `refused: ${v.reason}`;
    }
    const b = v.body;
    const command = this.commandFacts(b);
    if (!this.guard.accept(b.nonce, b.exp, now)) {
      this.record({ decision: 'refused', reason: 'replayed', detail: `nonce ${b.nonce} was already used`, command });
      this.o.log(`enforce: refused command ${b.id} (replayed)`);
      return 'refused: replayed';
    }
    try {
      if (b.type === 'kill') return this.kill(b, command);
      if (b.type === 'deny') return this.deny(b, command);
      return this.policy(b, command);
    } catch (e) {
      this.record({ decision: 'refused', reason: 'failed', detail: (e as Error).message, command });
      this.o.log(`enforce: command ${b.id} failed: ${(e as Error).message}`);
      return 'refused: failed';
    }
  }

  private kill(b: CommandBody, command: AuditRecord['command']): string {
    const k = b.kill!;
    const target = { pid: k.pid, start: k.start };
    if (k.boot !== this.o.host.bootId) {
      this.record({ decision: 'refused', reason: 'other-boot', detail: `the process was seen in boot ${k.boot}, this is boot ${this.o.host.bootId}`, command, target });
      return 'refused: other-boot';
    }
    if (k.pid === process.pid) {
      this.record({ decision: 'refused', reason: 'malformed', detail: 'the target is the collector itself', command, target });
      return 'refused: self';
    }
    // The kernel list first: should the pidfd kill race anything, the next traced open still dies.
    this.o.target.addKillTarget(k.pid, k.start);
    const outcome = native().killProcess(k.pid, k.start);
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.o.target.removeKillTarget(k.pid);
    }, 10_000);
    t.unref();
    this.timers.add(t);
    const detail = outcome === 'killed' ? `SIGKILL sent to ${k.pid} through a pidfd` : outcome === 'exited' ? `${k.pid} had already exited` : `pid ${k.pid} now names another process (start time differs): left alone`;
    this.record({ decision: 'applied', reason: 'ok', detail, command, outcome, target });
    this.o.log(`enforce: kill ${k.pid} (command ${b.id}, rule ${b.rule ?? '-'}): ${outcome}`);
    return outcome;
  }

  private deny(b: CommandBody, command: AuditRecord['command']): string {
    const d = b.deny!;
    const entries: WirePolicyEntry[] = d.paths.map((p) => ({ path: p, action: 'deny', ...(d.executable !== undefined ? { executable: d.executable } : { comm: d.comm! }) }));
    entries.forEach((e) => resolveEntry(e)); // an executable that is gone fails here, and the command with it
    const key = (e: WirePolicyEntry): string => `${e.path}\0${e.comm ?? ''}\0${e.executable ?? ''}`;
    const have = new Set(this.state.denies.map(key));
    const added = entries.filter((e) => !have.has(key(e)));
    this.state.denies.push(...added);
    this.applyPolicy();
    this.save();
    const target = { paths: d.paths, ...(d.executable !== undefined ? { executable: d.executable } : { comm: d.comm }) };
    this.record({ decision: 'applied', reason: 'ok', detail: `${added.length} deny entries added (${this.state.denies.length} in force)`, command, outcome: 'denied', target });
    this.o.log(`enforce: deny ${d.paths.join(', ')} to ${d.executable ?? d.comm} (command ${b.id})`);
    return 'denied';
  }

  private policy(b: CommandBody, command: AuditRecord['command']): string {
    const p = b.policy!;
    if (this.state.policy?.version === p.version) {
      this.record({ decision: 'applied', reason: 'ok', detail: `policy ${p.version} already in force`, command, outcome: 'unchanged', target: { entries: p.entries.length } });
      return 'unchanged';
    }
    this.state.policy = p;
    const skipped = this.applyPolicy();
    this.save();
    const detail = `policy ${p.version}: ${p.entries.length - skipped.length} of ${p.entries.length} entries in force${skipped.length ? `; skipped: ${skipped.join('; ')}` : ''}`;
    this.record({ decision: 'applied', reason: 'ok', detail, command, outcome: 'policy', target: { entries: p.entries.length } });
    this.o.log(`enforce: ${detail}`);
    return 'policy';
  }

  /** Puts base + pushed policy + denies into the kernel; returns the entries it could not resolve. */
  private applyPolicy(): string[] {
    const skipped: string[] = [];
    const entries = [...this.o.baseEntries];
    for (const e of [...(this.state.policy?.entries ?? []), ...this.state.denies]) {
      try {
        entries.push(resolveEntry(e));
      } catch (err) {
        skipped.push(`${e.executable ?? e.comm ?? '*'} ${e.path}: ${(err as Error).message}`);
      }
    }
    this.o.target.setPolicy(entries);
    return skipped;
  }

  private save(): void {
    writeFileAtomic(this.stateFile, JSON.stringify(this.state));
  }
}

/** A random id for an audit record. */
export const auditId = (): string => crypto.randomUUID();
