// Option parsers that commands on both sides use (a repeatable option, a positive number), apart from
// collect.ts, whose imports load the collector: the indexer image has no collector/ (docker/Dockerfile).
import { InvalidArgumentError } from 'commander';

/** Commander collector for repeatable options. */
export function repeat<T>(parse: (v: string) => T) {
  return (value: string, previous: T[] = []): T[] => [...previous, parse(value)];
}

export function parsePositive(v: string): number {
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || !(n > 0)) throw new InvalidArgumentError('expected a positive number');
  return n;
}
