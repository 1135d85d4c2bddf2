// Reads rule files (YAML, docs/rules.md) into checked Rule objects. Every mistake is reported with
// file:line and the reason, all of them at once, so one lint run fixes a file.
import fs from 'node:fs';
import path from 'node:path';
import { type Document, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import { packageRoot } from '../../../stack/src/package-root';
import { compareOrder, type JsonSchema, type SchemaProblem, type Segment, schemaChecker, schemaOrder, Sentences } from '../config-schema';
import { globProblem, globWildcards } from './glob-matcher';
import {
  type Access,
  ACCESSES,
  ACTIONS,
  type Conditions,
  GROUP_BY,
  type GroupBy,
  type Operation,
  OPERATION_NAMES,
  type Outcome,
  OUTCOMES,
  type Rule,
  type RuleAction,
  type RuleScope,
  SCOPES,
  type Severity,
  SEVERITIES,
  SPECIAL_BITS,
  type SpecialBit,
  type Threshold,
  type UidRange,
} from './rule-types';

export interface RuleProblem {
  file: string;
  line: number;
  message: string;
}

export class RuleFileError extends Error {
  override readonly name = 'RuleFileError';
  constructor(readonly problems: RuleProblem[]) {
    super(problems.map((p) => `${p.file}:${p.line}: ${p.message}`).join('\n'));
  }
}

/** The rule pack that ships with filewarden; `builtin` names it on the command line. */
export const BUILTIN_RULES = (): string => path.join(packageRoot(), 'rules', 'builtin.yaml');

/** What the kernel policy can express: a path prefix, scoped to one comm or one executable at most. */
const KERNEL_KEYS = ['path', 'path_prefix', 'process', 'executable'];

/** `on:` that names every operation (or none): the same as no `on:` in the kernel policy. */
const onEveryOperation = (on: Operation[] | undefined): boolean => on === undefined || OPERATION_NAMES.every((o) => on.includes(o));

/** The literal byte prefix a path glob stands for in the kernel, or undefined when it has none. */
export function globPrefix(glob: string): string | undefined {
  // The matcher's own notion of a wildcard (only *, ** and ?; "[" is a literal), so the kernel and
  // user space agree on what a literal path is.
  if (globWildcards(glob) === 0) return glob;
  if (glob.endsWith('/**') && globWildcards(glob.slice(0, -3)) === 0) return glob.slice(0, -2);
  return undefined;
}

/** A block's path conditions as byte prefixes; '' marks a glob the kernel cannot express. */
export function pathPrefixes(c: Conditions): string[] {
  return [...(c.pathPrefix ?? []), ...(c.path ?? []).map((g) => globPrefix(g) ?? '')];
}

// --- The schema: the shape of a rule file (docs/rules.md), with the sentence each failure reports.

/** Sentences by the schema object that failed; the others come from defaultSentence. */
const sentences = new Sentences();
const said = sentences.on.bind(sentences);
/** Lists where one value may stand for a one-element list (docs/rules.md): asLists wraps it first. */
const ONE_OR_MANY = new WeakSet<object>();
function list(items: JsonSchema, o: { alsoBoolean?: boolean; mayBeEmpty?: boolean } = {}): JsonSchema {
  const s: JsonSchema = { type: o.alsoBoolean ? ['boolean', 'array'] : 'array', ...(o.mayBeEmpty ? {} : { minItems: 1 }), items };
  ONE_OR_MANY.add(s);
  return s;
}
const enumOf = (values: readonly string[]): JsonSchema => ({ enum: [...values] });

const UID = /^(\d+)(?:\s*-\s*(\d+))?$/;
const ID = /^[a-z0-9][a-z0-9._-]*$/;
const DURATION = /^(\d+)(ms|s|m|h)$/;
/** A duration longer than 0: the schema's form of a threshold window. */
const WINDOW = /^0*[1-9]\d*(ms|s|m|h)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Names, globs, user names and ids: a number stands for its text (`user: 0`). */
const text: JsonSchema = { type: ['string', 'number'], minLength: 1 };
const absolute = said({ type: 'string', pattern: '^/' }, (p) => (p.keyword === 'pattern' ? `${at(p.path)} must be absolute: ${JSON.stringify(p.value)}` : undefined));
const uidSentence = (path: Segment[], value: unknown): string => `${field(path)} must be uids or ranges like 1000-59999, not ${JSON.stringify(String(value))}`;
const uid = said({ type: ['string', 'integer'], minimum: 0, maximum: 0xffffffff, pattern: UID.source }, (p) => uidSentence(p.path, p.value));
const conditions = said(
  {
    type: 'object',
    additionalProperties: false,
    minProperties: 1,
    properties: {
      on: list(enumOf(OPERATION_NAMES)),
      path: list(absolute),
      path_prefix: list(absolute),
      // A symlink's target is stored as written: relative targets are text too.
      target: list(text),
      process: list(text),
      executable: list(text),
      user: list(text),
      uid: list(uid),
      access: list(enumOf(ACCESSES)),
      special: list(enumOf(SPECIAL_BITS)),
      outcome: list(enumOf(OUTCOMES)),
      container: list(text, { alsoBoolean: true }),
    },
  },
  (p) => (p.keyword === 'minProperties' ? `${at(p.path)} needs at least one condition` : undefined),
);
const threshold: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['count', 'window'],
  properties: {
    count: said({ type: 'integer', minimum: 1 }, (p) => `${at(p.path)} must be an integer of at least 1`),
    window: said({ type: 'string', pattern: WINDOW.source }, (p) =>
      typeof p.value === 'string' && DURATION.test(p.value) ? `${at(p.path)} must be longer than 0` : `${at(p.path)} must be a duration like 500ms, 30s, 5m or 1h`,
    ),
    by: list(enumOf(GROUP_BY)),
  },
};
const rule: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'name', 'match'],
  properties: {
    id: said({ type: ['string', 'number'], minLength: 1, minimum: 0, pattern: ID.source }, (p) =>
      p.keyword === 'pattern' || p.keyword === 'minimum' ? `${at(p.path)} must be lower case letters, digits, '.', '_' or '-': ${JSON.stringify(String(p.value))}` : undefined,
    ),
    name: text,
    description: text,
    severity: enumOf(SEVERITIES),
    tags: list(text),
    match: conditions,
    except: list(conditions, { mayBeEmpty: true }),
    threshold,
    action: enumOf(ACTIONS),
    scope: enumOf(SCOPES),
  },
};
const SCHEMA: JsonSchema = said(
  { type: 'object', additionalProperties: false, required: ['rules'], properties: { version: said({ const: 1 }, () => 'version must be 1'), rules: { type: 'array', items: rule } } },
  (p) => (p.keyword === 'required' ? 'rules must be a list' : undefined),
);
const check = schemaChecker(SCHEMA);

/** A place as the messages name it: "rule 2.match.path[0]", "version", "the file". */
function at(path: Segment[]): string {
  if (path.length === 0) return 'the file';
  const [first, n, ...rest] = path;
  const head = first === 'rules' && typeof n === 'number' ? `rule ${n + 1}` : String(first);
  const tail = first === 'rules' && typeof n === 'number' ? rest : path.slice(1);
  return head + tail.map((s) => (typeof s === 'number' ? `[${s}]` : `.${s}`)).join('');
}
/** The list a value belongs to, for sentences that quote the value anyway ("access must be one of ..., not "exec""). */
const field = (path: Segment[]): string => at(typeof path[path.length - 1] === 'number' ? path.slice(0, -1) : path);

function defaultSentence(p: SchemaProblem): string {
  const quoted = p.value === null || typeof p.value !== 'object' ? `, not ${JSON.stringify(String(p.value))}` : '';
  const types = ([] as unknown[]).concat(p.params.type);
  switch (p.keyword) {
    case 'type':
      return `${at(p.path)} must be ${types.includes('object') ? 'a mapping' : types.includes('string') ? 'a non-empty string' : 'a list'}`;
    case 'minLength':
      return `${at(p.path)} must be a non-empty string`;
    case 'minItems':
      return `${at(p.path)} must not be an empty list`;
    case 'enum':
      return `${field(p.path)} must be one of ${(p.params.allowedValues as string[]).join(', ')}${quoted}`;
    case 'additionalProperties':
      return `unknown key ${JSON.stringify(p.params.additionalProperty)} in ${at(p.path.slice(0, -1))} (expected ${Object.keys(p.schema.properties ?? {}).join(', ')})`;
    case 'required':
      return `${at(p.path.slice(0, -1))} has no ${p.params.missingProperty}`;
    default:
      return `${at(p.path)} ${p.message}`;
  }
}

/** One value where the schema takes a list becomes that list, so the schema and the messages see one form. */
function asLists(schema: JsonSchema | undefined, v: unknown): unknown {
  if (!schema) return v;
  // A list that may be empty, given with no value (`except:`), is the empty list, as it always was.
  if (ONE_OR_MANY.has(schema) && v === null && schema.minItems === undefined) v = [];
  if (ONE_OR_MANY.has(schema) && !Array.isArray(v) && !(typeof v === 'boolean' && ([] as unknown[]).concat(schema.type).includes('boolean'))) v = [v];
  if (Array.isArray(v)) return v.map((x) => asLists(schema.items, x));
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, asLists(schema.properties?.[k], x)]));
  return v;
}

// --- The file as the schema lets it through, and what a schema cannot say.

type Text = string | number;
interface RawConditions {
  on?: Operation[];
  path?: string[];
  path_prefix?: string[];
  target?: Text[];
  process?: Text[];
  executable?: Text[];
  user?: Text[];
  uid?: Text[];
  access?: Access[];
  special?: SpecialBit[];
  outcome?: Outcome[];
  container?: boolean | Text[];
}
interface RawRule {
  id: Text;
  name: Text;
  description?: Text;
  severity?: Severity;
  tags?: Text[];
  match: RawConditions;
  except?: RawConditions[];
  threshold?: { count: number; window: string; by?: GroupBy[] };
  action?: RuleAction;
  scope?: RuleScope;
}

interface Located {
  line: number;
  message: string;
}

/** Reads the rules of a file that passed the schema, with the checks that need more than its shape. */
class Builder {
  readonly problems: Located[] = [];
  private readonly ids = new Map<string, number>();
  constructor(
    private readonly file: string,
    private readonly line: (path: Segment[]) => number,
  ) {}

  private fail(path: Segment[], message: string): void {
    this.problems.push({ line: this.line(path), message });
  }

  rule(r: RawRule, i: number): Rule {
    const here: Segment[] = ['rules', i];
    const what = at(here);
    const id = String(r.id);
    if (this.ids.has(id)) this.fail([...here, 'id'], `rule id ${id} is used twice (first at line ${this.ids.get(id)})`);
    else this.ids.set(id, this.line([...here, 'id']));
    const action = r.action ?? 'alert';
    if (r.scope !== undefined && action === 'alert') this.fail([...here, 'scope'], `${what}: scope applies to kill and deny, not to alert`);
    const rule: Rule = {
      id,
      name: String(r.name),
      severity: r.severity ?? 'medium',
      tags: (r.tags ?? []).map(String),
      match: this.conditions(r.match, [...here, 'match']),
      except: (r.except ?? []).map((e, k) => this.conditions(e, [...here, 'except', k])),
      action,
      scope: r.scope ?? 'on-alert',
      source: `${this.file}:${this.line(here)}`,
    };
    if (r.description !== undefined) rule.description = String(r.description);
    if (r.threshold) rule.threshold = this.threshold(r.threshold);
    this.checkEnforcement(rule, here);
    return rule;
  }

  private conditions(raw: RawConditions, here: Segment[]): Conditions {
    const c: Conditions = {};
    if (raw.on) c.on = [...new Set(raw.on)];
    if (raw.path) c.path = raw.path;
    if (raw.path_prefix) c.pathPrefix = raw.path_prefix;
    if (raw.target) c.target = raw.target.map(String);
    if (raw.process) c.process = raw.process.map(String);
    if (raw.executable) c.executable = raw.executable.map(String);
    if (raw.user) c.user = raw.user.map(String);
    if (raw.uid) c.uid = raw.uid.map((u, k) => this.uidRange(u, [...here, 'uid', k]));
    if (raw.access) c.access = raw.access;
    if (raw.special) c.special = raw.special;
    if (raw.outcome) c.outcome = raw.outcome;
    if (raw.container !== undefined) c.container = typeof raw.container === 'boolean' ? raw.container : raw.container.map(String);
    for (const k of ['path', 'target', 'process', 'executable', 'container'] as const) {
      const v = c[k];
      if (Array.isArray(v)) this.globBounds(v, [...here, k]);
    }
    this.reachable(c, here);
    return c;
  }

  /** A condition that only one operation has, next to an `on:` without it, makes a block that never holds. */
  private reachable(c: Conditions, here: Segment[]): void {
    if (!c.on) return;
    for (const [key, op] of [['access', 'open'], ['special', 'chmod']] as const) {
      if (c[key] && !c.on.includes(op)) this.fail([...here, 'on'], `${at(here)}: ${key} matches ${op} only, and on does not list ${op}`);
    }
  }

  /** Globs over the complexity bound (glob-matcher.ts, docs/rules.md) are refused, so matching stays linear and cheap. */
  private globBounds(globs: string[], here: Segment[]): void {
    for (const [i, g] of globs.entries()) {
      const problem = globProblem(g);
      if (problem) this.fail([...here, i], `${at([...here, i])} ${problem}`);
    }
  }

  /** The schema checks the form; the order of the two ends is this check's. */
  private uidRange(u: Text, here: Segment[]): UidRange {
    const m = UID.exec(String(u))!;
    const range = { from: Number(m[1]), to: Number(m[2] ?? m[1]) };
    if (range.from > range.to || range.to > 0xffffffff) this.fail(here, uidSentence(here, u));
    return range;
  }

  private threshold(t: NonNullable<RawRule['threshold']>): Threshold {
    const d = DURATION.exec(t.window)!;
    const windowMs = Number(d[1]) * UNIT_MS[d[2]!]!;
    return { count: t.count, windowMs, by: [...new Set(t.by ?? ['host' as const])] };
  }

  /** Kernel scope takes only what the in-kernel policy can express; deny needs a path prefix to push. */
  private checkEnforcement(r: Rule, here: Segment[]): void {
    const what = at(here);
    const match = [...here, 'match'];
    const prefixes = pathPrefixes(r.match);
    const expressible = prefixes.length > 0 && prefixes.every((p) => p.length > 0);
    if (r.scope === 'kernel') {
      // The kernel keeps an action per operation, but a write session is judged at its open (the
      // kernel cannot refuse a write it did not see coming): modify is an on-alert matter.
      if (r.match.on?.includes('modify') && !onEveryOperation(r.match.on)) this.fail([...match, 'on'], `${what}: scope: kernel cannot act on modify (a write session is judged at its open): use on: [open] for the opens for writing, or scope: on-alert`);
      const extra = Object.keys(r.match).filter((k) => !['on', 'path', 'pathPrefix', 'process', 'executable'].includes(k));
      if (extra.length) this.fail(match, `${what}: scope kernel can match only ${KERNEL_KEYS.join(', ')}; remove ${extra.join(', ')} or use scope on-alert`);
      if (!expressible) this.fail(match, `${what}: scope kernel needs path_prefix, or paths that are literal or end in /** (the kernel matches byte prefixes)`);
      if (r.match.process && r.match.executable) this.fail(match, `${what}: scope kernel takes a process or an executable, not both`);
      for (const [k, v] of [['process', r.match.process], ['executable', r.match.executable]] as const) {
        if (v && v.some((x) => globWildcards(x) > 0)) this.fail(match, `${what}: scope kernel needs literal ${k} names, not globs`);
      }
      if (r.match.process?.some((p) => Buffer.byteLength(p) > 15)) this.fail(match, `${what}: a process name (comm) has at most 15 bytes in the kernel`);
      if (r.threshold) this.fail([...here, 'threshold'], `${what}: scope kernel acts on each matching operation; a threshold needs scope on-alert`);
      for (const [k, e] of r.except.entries()) {
        const bad = Object.keys(e).filter((x) => !['path', 'pathPrefix'].includes(x));
        const ok = pathPrefixes(e).every((p) => p.length > 0);
        if (bad.length || !ok) this.fail([...here, 'except'], `${what}.except[${k}]: under scope kernel an exception is a path prefix only`);
      }
    } else if (r.action === 'deny' && !expressible) {
      this.fail(match, `${what}: deny pushes a kernel entry and needs path_prefix, or paths that are literal or end in /**`);
    }
  }
}

/** The YAML node at a path, or the nearest one above it that exists; for an unknown key, the key. */
function nodeAt(doc: Document, path: Segment[], key: boolean): Node | undefined {
  let found = (doc.contents ?? undefined) as Node | undefined;
  let n = found;
  for (const [i, seg] of path.entries()) {
    if (isMap(n)) {
      const pair = n.items.find((x) => isScalar(x.key) && String(x.key.value) === String(seg));
      if (!pair) break;
      if (key && i === path.length - 1) return pair.key as Node;
      n = pair.value as Node | undefined;
    } else if (isSeq(n) && typeof seg === 'number') n = n.items[seg] as Node | undefined;
    else break;
    if (!n) break;
    found = n;
  }
  return found;
}

/** Parses one rule file's text. Throws RuleFileError with every problem found. */
export function parseRules(text: string, file: string): Rule[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  // A key given twice is the YAML library's to find (uniqueKeys): a JSON schema never sees it.
  const yamlProblems = doc.errors.map((e) => ({ file, line: lines.linePos(e.pos[0]).line, message: `YAML: ${e.message.split('\n')[0]}` }));
  if (yamlProblems.length) throw new RuleFileError(yamlProblems);
  const lineOf = (path: Segment[], key = false): number => {
    const n = nodeAt(doc, path, key);
    return n?.range ? lines.linePos(n.range[0]).line : 1;
  };
  const value = asLists(SCHEMA, doc.toJS());
  const wrong = check(value).sort((a, b) => compareOrder(schemaOrder(SCHEMA, a), schemaOrder(SCHEMA, b)));
  const problems: Located[] = wrong.map((p) => ({ line: lineOf(p.path, p.keyword === 'additionalProperties'), message: sentences.tell(p, defaultSentence) }));
  // A rule's meaning is checked once its shape is right: the rules that passed the schema.
  const b = new Builder(file, (path) => lineOf(path));
  const out: Rule[] = [];
  const raw = (value as { rules?: unknown } | null)?.rules;
  if (Array.isArray(raw)) {
    for (const [i, r] of raw.entries()) if (!wrong.some((p) => p.path[0] === 'rules' && p.path[1] === i)) out.push(b.rule(r as RawRule, i));
  }
  problems.push(...b.problems);
  // Stable: problems on one line keep the schema's order.
  if (problems.length) throw new RuleFileError(problems.sort((x, y) => x.line - y.line).map((p) => ({ file, ...p })));
  return out;
}

/** Loads rule files ("builtin" names the shipped pack); ids must be unique across them. */
export function loadRules(files: string[]): Rule[] {
  const problems: RuleProblem[] = [];
  const rules: Rule[] = [];
  for (const f of files) {
    const file = f === 'builtin' ? BUILTIN_RULES() : f;
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      problems.push({ file, line: 0, message: `cannot read: ${(e as Error).message}` });
      continue;
    }
    try {
      rules.push(...parseRules(text, file));
    } catch (e) {
      if (e instanceof RuleFileError) problems.push(...e.problems);
      else throw e;
    }
  }
  const seen = new Map<string, string>();
  for (const r of rules) {
    if (seen.has(r.id)) problems.push({ file: r.source.replace(/:\d+$/, ''), line: Number(r.source.split(':').pop()), message: `rule id ${r.id} is also defined at ${seen.get(r.id)}` });
    else seen.set(r.id, r.source);
  }
  if (problems.length) throw new RuleFileError(problems);
  return rules;
}
