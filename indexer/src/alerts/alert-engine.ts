// Evaluates rules on each batch of event documents and produces alerts with deterministic ids, so
// a retried batch yields the same alerts (and Elasticsearch refuses the copies with 409).
import crypto from 'node:crypto';
import type { EventDocument } from '../../../contract/src/event-document';
import type { ThresholdStore } from './threshold-store';
import { type CompiledRule, compileRule } from '../rules/rule-matcher';
import type { GroupBy, Rule } from '../rules/rule-types';

export interface RuleInput {
  /** The event's _id. */
  id: string;
  doc: EventDocument;
  /** Event wall time in ms. */
  tsMs: number;
  /**
   * Whether an enrolled collector signed the event's batch. Untrusted events are alerted on but
   * counted in threshold windows of their own, so forged events can never push a trusted count.
   * @defaultValue true
   */
  trusted?: boolean;
}

export interface Alert {
  id: string;
  rule: Rule;
  /** The event that raised it (for a threshold: the one that reached the count). */
  trigger: RuleInput;
  /** The triggering events' ids (for a threshold: those in the window, up to 100). */
  eventIds: string[];
  count: number;
  /** The threshold group, e.g. "host=web1,user=0". */
  group?: string;
}

export const alertId = (ruleId: string, eventId: string): string =>
  crypto.createHash('sha256').update(`${ruleId}\0${eventId}`).digest('hex').slice(0, 32);

function groupOf(by: GroupBy[], d: EventDocument): string {
  const host = d.host.id ?? d.host.name;
  return by
    .map((b) => (b === 'host' ? `host=${host}` : b === 'process' ? `process=${host}/${d.host.boot.id}/${d.process.pid}` : `user=${host}/${d.user.id}`))
    .join(',');
}

export class AlertEngine {
  private readonly rules: CompiledRule[];

  constructor(
    rules: Rule[],
    private readonly store: ThresholdStore,
  ) {
    this.rules = rules.map(compileRule);
  }

  get size(): number {
    return this.rules.length;
  }

  /**
   * Whether any of these documents matches a rule that sends a command (kill or deny on alert): the
   * indexer then verifies the batch's digests before the rules run, so that only verified events
   * count towards a rule that can act, threshold windows included.
   */
  matchesEnforcing(docs: readonly EventDocument[]): boolean {
    for (const { rule, matches } of this.rules) {
      if (rule.action === 'alert' || rule.scope !== 'on-alert') continue;
      for (const d of docs) if (matches(d)) return true;
    }
    return false;
  }

  async evaluate(events: RuleInput[]): Promise<Alert[]> {
    const out: Alert[] = [];
    for (const { rule, matches } of this.rules) {
      for (const e of events) {
        if (!matches(e.doc)) continue;
        if (!rule.threshold) {
          out.push({ id: alertId(rule.id, e.id), rule, trigger: e, eventIds: [e.id], count: 1 });
          continue;
        }
        const t = rule.threshold;
        const group = groupOf(t.by, e.doc);
        const key = `${e.trusted === false ? 'untrusted:' : ''}${rule.id}:${group}`;
        const w = await this.store.record(key, e.tsMs, e.id, t.windowMs);
        if (w.count < t.count) continue;
        // One alert per window and group. The same candidate again (a retried batch) is raised again.
        const id = alertId(rule.id, e.id);
        const sup = await this.store.suppression(key);
        if (sup && sup.alertId !== id && sup.tsMs > e.tsMs - t.windowMs) continue;
        if (!sup || sup.alertId !== id) await this.store.suppress(key, { tsMs: e.tsMs, alertId: id }, t.windowMs);
        out.push({ id, rule, trigger: e, eventIds: w.members, count: w.count, group });
      }
    }
    return out;
  }
}
