// One check for every command that takes a period (--from/--to): the start may not be after the end.
import { InvalidArgumentError } from 'commander';

export function checkPeriod(from: Date, to: Date): void {
  if (from.getTime() > to.getTime()) throw new InvalidArgumentError(`--from ${from.toISOString()} is after --to ${to.toISOString()}`);
}
