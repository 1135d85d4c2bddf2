// The documents of the alerts index and of the audit index (enforcement decisions, hash-chain
// links), in ECS terms.
import type { AuditRecord, BatchJobData } from '../../../contract/src/wire';
import type { ChainLink } from '../../../contract/src/chain';
import type { Alert } from './alert-engine';

/** ECS event.severity for each rule severity. */
const SEVERITY_SCORE = { low: 21, medium: 47, high: 73, critical: 99 } as const;

export interface AlertEnforcement {
  action: 'none' | 'kill' | 'deny';
  scope?: 'kernel' | 'on-alert';
  /**
   * kernel-acted: the in-kernel policy acted on the event itself; command-sent: a signed command is
   * queued for the host; not-sent: it could not be (reason); not-in-kernel: a kernel rule whose
   * event the kernel let through (the policy was not on that host yet, or the name was not judgeable).
   */
  status: 'none' | 'kernel-acted' | 'not-in-kernel' | 'command-sent' | 'not-sent';
  command_id?: string;
  reason?: string;
  kernel_action?: string;
}

/** `trust`: the triggering batch's verdict (indexer/src/integrity/source-trust.ts). */
export function alertDocument(a: Alert, enforcement: AlertEnforcement, createdMs: number, trust?: { status: string; reason: string }): Record<string, unknown> {
  const d = a.trigger.doc;
  const doc: Record<string, unknown> = {
    '@timestamp': d['@timestamp'],
    event: { kind: 'alert', id: a.id, created: new Date(createdMs).toISOString(), severity: SEVERITY_SCORE[a.rule.severity], category: ['file'], dataset: 'filewarden.alerts' },
    rule: { id: a.rule.id, name: a.rule.name, ...(a.rule.description ? { description: a.rule.description } : {}), ruleset: a.rule.source.replace(/:\d+$/, '') },
    tags: a.rule.tags,
    host: d.host,
    process: { pid: d.process.pid, name: d.process.name, ...(d.process.executable ? { executable: d.process.executable } : {}) },
    user: { id: d.user.id, ...(d.user.name ? { name: d.user.name } : {}) },
    file: { path: d.file.path },
    filewarden: {
      alert: {
        severity: a.rule.severity,
        action: a.rule.action,
        event_ids: a.eventIds,
        event_count: a.count,
        ...(a.rule.threshold ? { threshold: { count: a.rule.threshold.count, window_ms: a.rule.threshold.windowMs, group: a.group } } : {}),
      },
      enforcement,
      boot_id: d.host.boot.id,
      seq: d.filewarden.seq,
      ...(trust ? { trust } : {}),
    },
  };
  if (d.container) doc.container = d.container;
  return doc;
}

/** `trust`: for a collector's record, whether its signature is from a key enrolled for its host. */
export function auditDocument(r: AuditRecord, id: string, source: 'collector' | 'indexer', trust?: { status: string; reason: string }): Record<string, unknown> {
  return {
    '@timestamp': new Date(r.at).toISOString(),
    event: { kind: 'event', id, category: ['process'], action: 'enforcement-command', outcome: r.decision === 'refused' ? 'failure' : 'success', reason: r.reason },
    message: r.detail,
    host: { name: r.host.name, ...(r.host.id ? { id: r.host.id } : {}), boot: { id: r.host.bootId } },
    filewarden: {
      audit: { source, decision: r.decision, reason: r.reason, detail: r.detail, ...(r.outcome ? { outcome: r.outcome } : {}), command: r.command, ...(r.target ? { target: r.target } : {}) },
      ...(trust ? { trust: { status: trust.status, reason: trust.reason } } : {}),
    },
  };
}

/** A chain link's audit id: one per batch, so a retried batch writes it once. */
export const chainRecordId = (d: Pick<BatchJobData, 'boot' | 'stream' | 'first'>): string => `chain-${d.boot}-${d.stream}-${d.first}`;

/** A batch's chain link as an audit document: verify reads these back and recomputes everything. */
export function chainDocument(d: BatchJobData, l: ChainLink, host: { name: string; id?: string }): Record<string, unknown> {
  const t0 = new Date(Math.min(...l.times)).toISOString();
  return {
    '@timestamp': t0,
    event: { kind: 'event', id: chainRecordId(d), category: ['configuration'], action: 'chain-link', outcome: 'success' },
    host: { name: host.name, ...(host.id ? { id: host.id } : {}), boot: { id: d.boot } },
    filewarden: {
      chain: {
        v: l.v,
        boot_id: d.boot,
        seq_stream: d.stream,
        first: d.first,
        last: d.last,
        t0,
        t1: new Date(Math.max(...l.times)).toISOString(),
        prev: l.prev,
        head: l.head,
        key: l.key,
        alg: l.alg,
        digests: l.digests,
        times: l.times,
        pub: l.pub,
        sig: l.sig,
      },
    },
  };
}
