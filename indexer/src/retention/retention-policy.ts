// The retention policy: days per data class, and legal holds by host or by index. Read from a YAML
// (or JSON) file and checked against its JSON schema; every problem is reported with its place, and
// nothing runs on a bad file.
import fs from 'node:fs';
import YAML from 'yaml';
import { compareOrder, type JsonSchema, type SchemaProblem, schemaChecker, schemaOrder, Sentences } from '../config-schema';

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

// What a problem is called in the policy's own words: "holds[0].reason: ...".
const sentences = new Sentences();
const said = sentences.on.bind(sentences);
const at = (path: (string | number)[]): string => path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i ? `.${s}` : s)).join('');
const sentence = (p: SchemaProblem): string => sentences.tell(p, () => `${at(p.path)}: ${p.message}`);

const days = (c: DataClass): JsonSchema => said({ type: 'integer', minimum: 1, maximum: 36_500 }, (p) => `${c}: expected whole days from 1 to 36500, got ${JSON.stringify(p.value)}`);
const holdName = (what: string): JsonSchema => said({ type: 'string', minLength: 1 }, (p) => `${at(p.path)}: expected ${what}`);
const hold: JsonSchema = said(
  {
    type: 'object',
    additionalProperties: false,
    properties: {
      host: holdName('a host name'),
      index: holdName('an index name'),
      reason: said({ type: 'string', pattern: '\\S' }, (p) => `${at(p.path)}: a legal hold needs a reason (the evidence records it)`),
    },
    required: ['reason'],
    oneOf: [{ required: ['host'] }, { required: ['index'] }],
  },
  (p) => {
    if (p.keyword === 'type') return `${at(p.path)}: expected a mapping with host or index, and reason`;
    if (p.keyword === 'oneOf') return `${at(p.path)}: give exactly one of host or index`;
    if (p.keyword === 'additionalProperties') return `${at(p.path.slice(0, -1))}: unknown key "${p.params.additionalProperty}"`;
    return undefined; // a missing reason: the reason's own sentence
  },
);
const SCHEMA: JsonSchema = said(
  {
    type: 'object',
    additionalProperties: false,
    properties: { events: days('events'), alerts: days('alerts'), audit: days('audit'), holds: said({ type: ['array', 'null'], items: hold }, () => 'holds: expected a list') },
    required: [...DATA_CLASSES],
  },
  (p) => {
    if (p.keyword === 'type') return `expected a mapping with ${DATA_CLASSES.join(', ')} and holds`;
    if (p.keyword === 'additionalProperties') return `unknown key "${p.params.additionalProperty}" (expected ${DATA_CLASSES.join(', ')}, holds)`;
    if (p.keyword === 'required') return `${p.params.missingProperty}: missing (days to keep ${p.params.missingProperty})`;
    return undefined;
  },
);
const check = schemaChecker(SCHEMA);

export function parseRetentionPolicy(text: string, source: string): RetentionPolicy {
  let v: unknown;
  try {
    v = YAML.parse(text);
  } catch (e) {
    throw new RetentionPolicyError(`${source}: not YAML or JSON: ${(e as Error).message}`);
  }
  const problems = check(v).sort((a, b) => compareOrder(schemaOrder(SCHEMA, a), schemaOrder(SCHEMA, b)));
  if (problems.length) throw new RetentionPolicyError(problems.map((p) => `${source}: ${sentence(p)}`).join('\n'));
  const o = v as Record<DataClass, number> & { holds?: LegalHold[] | null };
  return { days: { events: o.events, alerts: o.alerts, audit: o.audit }, holds: (o.holds ?? []).map((h) => ({ ...h })), source };
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
