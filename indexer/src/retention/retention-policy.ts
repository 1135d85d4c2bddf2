// The retention policy: days per data class, and legal holds by host or by index. Read from a YAML
// (or JSON) file; every problem is reported with its place, and nothing runs on a bad file.
import fs from 'node:fs';
import YAML from 'yaml';

export const DATA_CLASSES = ['events', 'alerts', 'audit'] as const;
export type DataClass = (typeof DATA_CLASSES)[number];

export interface LegalHold {
  host?: string;
  index?: string;
  reason: string;
}

export interface RetentionPolicy {
  /** Days each class is kept: data older than now minus this is deleted. */
  days: Record<DataClass, number>;
  holds: LegalHold[];
  /** Where it was read from, for the evidence. */
  source: string;
}

export class RetentionPolicyError extends Error {
  override readonly name = 'RetentionPolicyError';
}

export function parseRetentionPolicy(text: string, source: string): RetentionPolicy {
  let v: unknown;
  try {
    v = YAML.parse(text);
  } catch (e) {
    throw new RetentionPolicyError(`${source}: not YAML or JSON: ${(e as Error).message}`);
  }
  const problems: string[] = [];
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new RetentionPolicyError(`${source}: expected a mapping with ${DATA_CLASSES.join(', ')} and holds`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (![...DATA_CLASSES, 'holds'].includes(k)) problems.push(`unknown key "${k}" (expected ${DATA_CLASSES.join(', ')}, holds)`);
  const days = {} as Record<DataClass, number>;
  for (const c of DATA_CLASSES) {
    const d = o[c];
    if (d === undefined) problems.push(`${c}: missing (days to keep ${c})`);
    else if (typeof d !== 'number' || !Number.isInteger(d) || d < 1 || d > 36_500) problems.push(`${c}: expected whole days from 1 to 36500, got ${JSON.stringify(d)}`);
    else days[c] = d;
  }
  const holds: LegalHold[] = [];
  const h = o.holds ?? [];
  if (!Array.isArray(h)) problems.push('holds: expected a list');
  else
    h.forEach((x: unknown, i) => {
      const e = x as Record<string, unknown>;
      if (e === null || typeof e !== 'object') return void problems.push(`holds[${i}]: expected a mapping with host or index, and reason`);
      for (const k of Object.keys(e)) if (!['host', 'index', 'reason'].includes(k)) problems.push(`holds[${i}]: unknown key "${k}"`);
      if ((e.host === undefined) === (e.index === undefined)) problems.push(`holds[${i}]: give exactly one of host or index`);
      if (e.host !== undefined && (typeof e.host !== 'string' || !e.host)) problems.push(`holds[${i}].host: expected a host name`);
      if (e.index !== undefined && (typeof e.index !== 'string' || !e.index)) problems.push(`holds[${i}].index: expected an index name`);
      if (typeof e.reason !== 'string' || !e.reason.trim()) problems.push(`holds[${i}].reason: a legal hold needs a reason (the evidence records it)`);
      holds.push({ ...(typeof e.host === 'string' ? { host: e.host } : {}), ...(typeof e.index === 'string' ? { index: e.index } : {}), reason: String(e.reason ?? '') });
    });
  if (problems.length) throw new RetentionPolicyError(problems.map((p) => `${source}: ${p}`).join('\n'));
  return { days, holds, source };
}

export function loadRetentionPolicy(file: string): RetentionPolicy {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new RetentionPolicyError(`cannot read the retention policy ${file}: ${(e as NodeJS.ErrnoException).code}`);
  }
  return parseRetentionPolicy(text, file);
}

/**
 * The equivalent ILM policies, for clusters that manage retention with ILM. ILM counts age from an
 * index's creation (or rollover), so it deletes whole daily indices a day later than the built-in
 * job at worst, and it knows nothing of legal holds by host: the built-in job is the tested path.
 */
export function ilmPolicies(p: RetentionPolicy, names: { indexPrefix: string; alertIndex: string; auditIndex: string }): Record<string, unknown> {
  const deleteAfter = (days: number, rollover: boolean): object => ({
    policy: {
      _meta: { managed_by: 'filewarden', source: p.source },
      phases: {
        hot: { min_age: '0ms', actions: rollover ? { rollover: { max_age: '1d' } } : {} },
        delete: { min_age: `${days}d`, actions: { delete: {} } },
      },
    },
  });
  return {
    [`${names.indexPrefix}`]: { applies_to: `${names.indexPrefix}-*`, ...deleteAfter(p.days.events, false) },
    [`${names.alertIndex}`]: { applies_to: `${names.alertIndex} (write through a rollover alias)`, ...deleteAfter(p.days.alerts, true) },
    [`${names.auditIndex}`]: { applies_to: `${names.auditIndex} (write through a rollover alias)`, ...deleteAfter(p.days.audit, true) },
    notes: [
      'ILM ages an index from its creation or rollover, so whole indices go up to a day later than the policy says; the built-in job deletes to the millisecond.',
      `Legal holds (${p.holds.length} in this policy) have no ILM equivalent: remove the policy from a held index by hand.`,
      'Hash-chain links live in the audit index and follow the events class in the built-in job; with ILM they follow the audit class.',
    ],
  };
}
