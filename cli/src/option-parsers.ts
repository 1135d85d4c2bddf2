// Option parsers that commands on both sides use (a repeatable option, a positive number), apart from
// collect.ts, whose imports load the collector: the indexer image has no collector/ (docker/Dockerfile).
import { InvalidArgumentError } from 'commander';
import type { OperationName } from '../../contract/src/event';
import { OPERATIONS } from '../../contract/src/event-document';

/** Commander collector for repeatable options. */
export function repeat<T>(parse: (v: string) => T) {
  return (value: string, previous: T[] = []): T[] => [...previous, parse(value)];
}

export function parsePositive(v: string): number {
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || !(n > 0)) throw new InvalidArgumentError('expected a positive number');
  return n;
}

/** `--ops open,unlink,rename`: the operations to record, each named once; `all` for every one. */
export function parseOps(v: string): OperationName[] {
  const known = Object.keys(OPERATIONS) as OperationName[];
  if (v.trim() === 'all') return known;
  const ops = v.split(',').map((s) => s.trim());
  for (const op of ops) {
    if (!known.includes(op as OperationName)) throw new InvalidArgumentError(`unknown operation "${op}" (known: all, ${known.join(', ')})`);
  }
  if (new Set(ops).size !== ops.length) throw new InvalidArgumentError('an operation is named twice');
  return ops as OperationName[];
}
