// Compiles rules into predicates over indexed event documents: globs to linear-time matchers once
// (glob-matcher.ts), then every condition of a block must hold, and no exception may.
import type { EventDocument } from '../../../contract/src/event-document';
import { anyGlob } from './glob-matcher';
import type { Conditions, Rule } from './rule-types';

type Predicate = (d: EventDocument) => boolean;

export function compileConditions(c: Conditions): Predicate {
  const tests: Predicate[] = [];
  const path = anyGlob(c.path);
  if (path) tests.push((d) => path(d.file.path));
  if (c.pathPrefix) {
    const p = c.pathPrefix;
    tests.push((d) => p.some((x) => d.file.path.startsWith(x)));
  }
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
  const except = rule.except.map(compileConditions);
  return { rule, matches: (d) => match(d) && !except.some((e) => e(d)) };
}
