// Reads rule files (YAML, docs/rules.md) into checked Rule objects. Every mistake is reported with
// file:line and the reason, all of them at once, so one lint run fixes a file.
import fs from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type Scalar, type YAMLMap } from 'yaml';
import { packageRoot } from '../../../stack/src/package-root';
import { globProblem } from './glob-matcher';
import {
  ACCESSES,
  ACTIONS,
  type Conditions,
  GROUP_BY,
  OUTCOMES,
  type Rule,
  SCOPES,
  SEVERITIES,
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

const CONDITION_KEYS = ['path', 'path_prefix', 'process', 'executable', 'user', 'uid', 'access', 'outcome', 'container'] as const;
const RULE_KEYS = ['id', 'name', 'description', 'severity', 'tags', 'match', 'except', 'threshold', 'action', 'scope'];
/** What the kernel policy can express: a path prefix, scoped to one comm or one executable at most. */
const KERNEL_KEYS = ['path', 'path_prefix', 'process', 'executable'];

const DURATION = /^(\d+)(ms|s|m|h)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** The literal byte prefix a path glob stands for in the kernel, or undefined when it has none. */
export function globPrefix(glob: string): string | undefined {
  if (!/[*?[]/.test(glob)) return glob;
  if (glob.endsWith('/**') && !/[*?[]/.test(glob.slice(0, -3))) return glob.slice(0, -2);
  return undefined;
}

/** A block's path conditions as byte prefixes; '' marks a glob the kernel cannot express. */
export function pathPrefixes(c: Conditions): string[] {
  return [...(c.pathPrefix ?? []), ...(c.path ?? []).map((g) => globPrefix(g) ?? '')];
}

class Reader {
  readonly problems: RuleProblem[] = [];
  constructor(
    private readonly file: string,
    private readonly lines: LineCounter,
  ) {}

  line(n: Node | null | undefined): number {
    return n?.range ? this.lines.linePos(n.range[0]).line : 1;
  }

  fail(n: Node | null | undefined, message: string): undefined {
    this.problems.push({ file: this.file, line: this.line(n), message });
    return undefined;
  }

  str(n: Node | null | undefined, what: string): string | undefined {
    if (isScalar(n) && (typeof n.value === 'string' || typeof n.value === 'number') && String(n.value).length > 0) return String(n.value);
    return this.fail(n, `${what} must be a non-empty string`);
  }

  /** A string or a list of strings. */
  strs(n: Node | null | undefined, what: string): string[] | undefined {
    if (isSeq(n)) {
      if (n.items.length === 0) return this.fail(n, `${what} must not be an empty list`);
      const out = n.items.map((i, k) => this.str(i as Node, `${what}[${k}]`));
      return out.every((x) => x !== undefined) ? (out as string[]) : undefined;
    }
    const one = this.str(n, what);
    return one === undefined ? undefined : [one];
  }

  oneOf<T extends string>(n: Node | null | undefined, what: string, allowed: readonly T[]): T | undefined {
    const v = isScalar(n) ? String(n.value) : undefined;
    if (v !== undefined && (allowed as readonly string[]).includes(v)) return v as T;
    return this.fail(n, `${what} must be one of ${allowed.join(', ')}${v === undefined ? '' : `, not ${JSON.stringify(v)}`}`);
  }

  manyOf<T extends string>(n: Node | null | undefined, what: string, allowed: readonly T[]): T[] | undefined {
    const items = isSeq(n) ? (n.items as Node[]) : [n as Node];
    const out = items.map((i) => this.oneOf(i, what, allowed));
    return out.every((x) => x !== undefined) ? (out as T[]) : undefined;
  }

  map(n: Node | null | undefined, what: string, keys: readonly string[]): Map<string, Node> | undefined {
    if (!isMap(n)) return this.fail(n, `${what} must be a mapping`);
    const out = new Map<string, Node>();
    for (const pair of (n as YAMLMap).items) {
      const k = isScalar(pair.key) ? String((pair.key as Scalar).value) : undefined;
      if (k === undefined || !keys.includes(k)) {
        this.fail(pair.key as Node, `unknown key ${JSON.stringify(k)} in ${what} (expected ${keys.join(', ')})`);
        continue;
      }
      if (out.has(k)) this.fail(pair.key as Node, `${k} is given twice in ${what}`);
      out.set(k, pair.value as Node);
    }
    return out;
  }

  conditions(n: Node | null | undefined, what: string): Conditions | undefined {
    const m = this.map(n, what, CONDITION_KEYS);
    if (!m) return undefined;
    if (m.size === 0) return this.fail(n, `${what} needs at least one condition`);
    const c: Conditions = {};
    const globs = (k: string): string[] | undefined => (m.has(k) ? this.strs(m.get(k), `${what}.${k}`) : undefined);
    c.path = globs('path');
    for (const [i, p] of (c.path ?? []).entries()) if (!p.startsWith('/')) this.fail(m.get('path'), `${what}.path[${i}] must be absolute: ${JSON.stringify(p)}`);
    c.pathPrefix = globs('path_prefix');
    for (const [i, p] of (c.pathPrefix ?? []).entries()) if (!p.startsWith('/')) this.fail(m.get('path_prefix'), `${what}.path_prefix[${i}] must be absolute: ${JSON.stringify(p)}`);
    c.process = globs('process');
    c.executable = globs('executable');
    c.user = globs('user');
    if (m.has('uid')) c.uid = this.uids(m.get('uid'), `${what}.uid`);
    if (m.has('access')) c.access = this.manyOf(m.get('access'), `${what}.access`, ACCESSES);
    if (m.has('outcome')) c.outcome = this.manyOf(m.get('outcome'), `${what}.outcome`, OUTCOMES);
    if (m.has('container')) {
      const v = m.get('container');
      c.container = isScalar(v) && typeof v.value === 'boolean' ? v.value : this.strs(v, `${what}.container`);
    }
    for (const k of ['path', 'process', 'executable', 'container'] as const) {
      const v = c[k];
      if (Array.isArray(v)) this.globBounds(m.get(k), `${what}.${k}`, v);
    }
    for (const k of Object.keys(c) as (keyof Conditions)[]) if (c[k] === undefined) delete c[k];
    return c;
  }

  /** Globs over the complexity bound (glob-matcher.ts, docs/rules.md) are refused, so matching stays linear and cheap. */
  private globBounds(n: Node | undefined, what: string, globs: string[]): void {
    const items = isSeq(n) ? (n.items as Node[]) : [n];
    for (const [i, g] of globs.entries()) {
      const problem = globProblem(g);
      if (problem) this.fail(items[i] ?? n, `${what}[${i}] ${problem}`);
    }
  }

  uids(n: Node | null | undefined, what: string): UidRange[] | undefined {
    const items = isSeq(n) ? (n.items as Node[]) : [n as Node];
    const out: UidRange[] = [];
    for (const i of items) {
      const s = isScalar(i) ? String(i.value) : '';
      const m = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(s);
      const from = m ? Number(m[1]) : NaN;
      const to = m ? Number(m[2] ?? m[1]) : NaN;
      if (!m || from > to || to > 0xffffffff) {
        this.fail(i, `${what} must be uids or ranges like 1000-59999, not ${JSON.stringify(s)}`);
        continue;
      }
      out.push({ from, to });
    }
    return out.length === items.length ? out : undefined;
  }

  threshold(n: Node | null | undefined, what: string): Threshold | undefined {
    const m = this.map(n, what, ['count', 'window', 'by']);
    if (!m) return undefined;
    const count = m.get('count');
    const c = isScalar(count) && Number.isInteger(count.value) && (count.value as number) >= 1 ? (count.value as number) : this.fail(count ?? n, `${what}.count must be an integer of at least 1`);
    const w = m.get('window');
    const d = isScalar(w) ? DURATION.exec(String(w.value)) : null;
    const windowMs = d ? Number(d[1]) * UNIT_MS[d[2]!]! : this.fail(w ?? n, `${what}.window must be a duration like 500ms, 30s, 5m or 1h`);
    if (windowMs === 0) this.fail(w, `${what}.window must be longer than 0`);
    const by = m.has('by') ? this.manyOf(m.get('by'), `${what}.by`, GROUP_BY) : ['host' as const];
    if (c === undefined || windowMs === undefined || by === undefined) return undefined;
    return { count: c, windowMs, by: [...new Set(by)] };
  }

  rule(n: Node, index: number, ids: Map<string, number>): Rule | undefined {
    const what = `rule ${index + 1}`;
    const m = this.map(n, what, RULE_KEYS);
    if (!m) return undefined;
    for (const k of ['id', 'name', 'match']) if (!m.has(k)) this.fail(n, `${what} has no ${k}`);
    const id = m.has('id') ? this.str(m.get('id'), `${what}.id`) : undefined;
    if (id !== undefined && !/^[a-z0-9][a-z0-9._-]*$/.test(id)) this.fail(m.get('id'), `${what}.id must be lower case letters, digits, '.', '_' or '-': ${JSON.stringify(id)}`);
    if (id !== undefined && ids.has(id)) this.fail(m.get('id'), `rule id ${id} is used twice (first at line ${ids.get(id)})`);
    if (id !== undefined && !ids.has(id)) ids.set(id, this.line(m.get('id')));
    const name = m.has('name') ? this.str(m.get('name'), `${what}.name`) : undefined;
    const description = m.has('description') ? this.str(m.get('description'), `${what}.description`) : undefined;
    const severity = m.has('severity') ? this.oneOf(m.get('severity'), `${what}.severity`, SEVERITIES) : 'medium';
    const tags = m.has('tags') ? this.strs(m.get('tags'), `${what}.tags`) : [];
    const match = m.has('match') ? this.conditions(m.get('match'), `${what}.match`) : undefined;
    const exceptNode = m.get('except');
    let except: Conditions[] | undefined = [];
    if (exceptNode) {
      const items = isSeq(exceptNode) ? (exceptNode.items as Node[]) : [exceptNode];
      const parsed = items.map((i, k) => this.conditions(i, `${what}.except[${k}]`));
      except = parsed.every((x) => x !== undefined) ? (parsed as Conditions[]) : undefined;
    }
    const threshold = m.has('threshold') ? this.threshold(m.get('threshold'), `${what}.threshold`) : undefined;
    const action = m.has('action') ? this.oneOf(m.get('action'), `${what}.action`, ACTIONS) : 'alert';
    const scope = m.has('scope') ? this.oneOf(m.get('scope'), `${what}.scope`, SCOPES) : 'on-alert';
    if (m.has('scope') && action === 'alert') this.fail(m.get('scope'), `${what}: scope applies to kill and deny, not to alert`);
    if (id === undefined || name === undefined || severity === undefined || tags === undefined || match === undefined || except === undefined || action === undefined || scope === undefined) return undefined;
    if (m.has('threshold') && threshold === undefined) return undefined;
    const rule: Rule = { id, name, severity, tags, match, except, action, scope, source: `${this.file}:${this.line(n)}` };
    if (description !== undefined) rule.description = description;
    if (threshold) rule.threshold = threshold;
    this.checkEnforcement(rule, m, what);
    return rule;
  }

  /** Kernel scope takes only what the in-kernel policy can express; deny needs a path prefix to push. */
  private checkEnforcement(r: Rule, m: Map<string, Node>, what: string): void {
    const prefixes = pathPrefixes(r.match);
    const expressible = prefixes.length > 0 && prefixes.every((p) => p.length > 0);
    if (r.scope === 'kernel') {
      const extra = Object.keys(r.match).filter((k) => !['path', 'pathPrefix', 'process', 'executable'].includes(k));
      if (extra.length) this.fail(m.get('match'), `${what}: scope kernel can match only ${KERNEL_KEYS.join(', ')}; remove ${extra.join(', ')} or use scope on-alert`);
      if (!expressible) this.fail(m.get('match'), `${what}: scope kernel needs path_prefix, or paths that are literal or end in /** (the kernel matches byte prefixes)`);
      if (r.match.process && r.match.executable) this.fail(m.get('match'), `${what}: scope kernel takes a process or an executable, not both`);
      for (const [k, v] of [['process', r.match.process], ['executable', r.match.executable]] as const) {
        if (v && v.some((x) => /[*?[]/.test(x))) this.fail(m.get('match'), `${what}: scope kernel needs literal ${k} names, not globs`);
      }
      if (r.match.process?.some((p) => Buffer.byteLength(p) > 15)) this.fail(m.get('match'), `${what}: a process name (comm) has at most 15 bytes in the kernel`);
      if (r.threshold) this.fail(m.get('threshold'), `${what}: scope kernel acts on every open; a threshold needs scope on-alert`);
      for (const [k, e] of r.except.entries()) {
        const bad = Object.keys(e).filter((x) => !['path', 'pathPrefix'].includes(x));
        const ok = pathPrefixes(e).every((p) => p.length > 0);
        if (bad.length || !ok) this.fail(m.get('except'), `${what}.except[${k}]: under scope kernel an exception is a path prefix only`);
      }
    } else if (r.action === 'deny' && !expressible) {
      this.fail(m.get('match'), `${what}: deny pushes a kernel entry and needs path_prefix, or paths that are literal or end in /**`);
    }
  }
}

/** Parses one rule file's text. Throws RuleFileError with every problem found. */
export function parseRules(text: string, file: string): Rule[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  const r = new Reader(file, lines);
  for (const e of doc.errors) r.problems.push({ file, line: e.linePos?.[0]?.line ?? 1, message: `YAML: ${e.message.split('\n')[0]}` });
  if (r.problems.length) throw new RuleFileError(r.problems);
  const top = r.map(doc.contents as Node, 'the file', ['version', 'rules']);
  const out: Rule[] = [];
  if (top) {
    if (top.has('version') && !(isScalar(top.get('version')) && (top.get('version') as Scalar).value === 1)) r.fail(top.get('version'), 'version must be 1');
    const rules = top.get('rules');
    if (!isSeq(rules)) r.fail(rules ?? (doc.contents as Node), 'rules must be a list');
    else {
      const ids = new Map<string, number>();
      for (const [i, n] of (rules.items as Node[]).entries()) {
        const rule = r.rule(n, i, ids);
        if (rule) out.push(rule);
      }
    }
  }
  if (r.problems.length) throw new RuleFileError(r.problems);
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
