// Compiles rules into predicates over indexed event documents: globs to linear-time matchers once
// (glob-matcher.ts), then every condition of a block must hold, and no exception may.
import type { EventDocument } from '../../../contract/src/event-document';
import { anyGlob } from './glob-matcher';
import type { Conditions, Rule } from './rule-types';

type Predicate = (d: EventDocument) => boolean;

/** A version-1 batch's documents carry no operation: they are all opens. */
export const operationOf = (d: EventDocument): string => d.filewarden.operation ?? 'open';

/**
 * The names an operation acts on, as the kernel policy judges them: the path, and the other path of
 * a rename (the old one) or a link (the existing file). A symlink's target is text, not a file it
 * acts on: `target:` matches it.
 */
export function actedOnPaths(d: EventDocument): string[] {
  const op = operationOf(d);
  if (op === 'rename' && d.filewarden.original_path !== undefined) return [d.file.path, d.filewarden.original_path];
  if (op === 'link' && d.file.target_path !== undefined) return [d.file.path, d.file.target_path];
  return [d.file.path];
}

/**
 * How a block reads a path condition when the operation acts on two names: a match block holds when
 * either name matches (a rule on a protected path fires on a rename onto it and away from it); an
 * exception holds only when both do (an exception for /tmp/** does not hide a rename from /tmp onto
 * /usr/bin/ls).
 */
export type PathQuantifier = 'any' | 'every';

export function compileConditions(c: Conditions, names: PathQuantifier = 'any'): Predicate {
  const tests: Predicate[] = [];
  const onNames = (f: (p: string) => boolean): Predicate => (names === 'any' ? (d) => actedOnPaths(d).some(f) : (d) => actedOnPaths(d).every(f));
  if (c.on) {
    const ops = new Set<string>(c.on);
    tests.push((d) => ops.has(operationOf(d)));
  }
  const path = anyGlob(c.path);
  if (path) tests.push(onNames((p) => path(p)));
  if (c.pathPrefix) {
    const p = c.pathPrefix;
    tests.push(onNames((x) => p.some((y) => x.startsWith(y))));
  }
  const target = anyGlob(c.target);
  if (target) tests.push((d) => target(d.file.target_path));
  const proc = anyGlob(c.process);
  if (proc) tests.push((d) => proc(d.process.name));
  const exe = anyGlob(c.executable);
  if (exe) tests.push((d) => exe(d.process.executable));
  if (c.user) {
    const u = new Set(c.user);
    tests.push((d) => u.has(d.user.id) || (d.user.name !== undefined && u.has(d.user.name)));
  }
  if (c.uid) {
    const ranges = c.uid;
    tests.push((d) => {
      const uid = Number(d.user.id);
      return ranges.some((r) => uid >= r.from && uid <= r.to);
    });
  }
  if (c.access) {
    const a = c.access;
    tests.push((d) => { const acc = d.filewarden.access; return acc !== undefined && a.some((x) => acc[x]); });
  }
  if (c.special) {
    const want = c.special;
    tests.push((d) => { const got = d.filewarden.change?.special; return got !== undefined && want.some((x) => got.includes(x)); });
  }
  if (c.outcome) {
    const o = c.outcome;
    tests.push((d) => o.includes(d.event.outcome));
  }
  if (c.container !== undefined) {
    const want = c.container;
    if (want === true) tests.push((d) => d.container !== undefined);
    else if (want === false) tests.push((d) => d.container === undefined);
    else {
      const ids = anyGlob(want)!;
      tests.push((d) => ids(d.container?.id));
    }
  }
  return (d) => tests.every((t) => t(d));
}

export interface CompiledRule {
  rule: Rule;
  matches: Predicate;
}

export function compileRule(rule: Rule): CompiledRule {
  const match = compileConditions(rule.match);
  const except = rule.except.map((e) => compileConditions(e, 'every'));
  return { rule, matches: (d) => match(d) && !except.some((e) => e(d)) };
}
