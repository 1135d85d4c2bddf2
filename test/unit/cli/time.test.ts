// Every time the CLI takes (--from/--to of report, verify, search and gaps, retention run --as-of) is Elasticsearch date
// math evaluated in UTC; a fixed "now" makes each bound an exact instant.
import t from 'tap';
import { InvalidArgumentError } from 'commander';
import { parseTime } from '../../../cli/src/main';

const now = new Date('2026-11-30T14:27:33.250Z');
const at = (v: string, roundUp = false): string => parseTime(v, { now, roundUp }).toISOString();

t.test('date math counts back from now and rounds to UTC units', async (t) => {
  t.strictSame(
    ['now', 'now-7d', 'now-1h', 'now-15m', 'now/d', 'now-1h/h', 'now-1d/d', 'now/M'].map((v) => at(v)),
    ['2026-11-30T14:27:33.250Z', '2026-11-23T14:27:33.250Z', '2026-11-30T13:27:33.250Z', '2026-11-30T14:12:33.250Z', '2026-11-30T00:00:00.000Z', '2026-11-30T13:00:00.000Z', '2026-11-29T00:00:00.000Z', '2026-11-01T00:00:00.000Z'],
  );
});

t.test('an end bound rounds up to the last millisecond of its unit', async (t) => {
  t.strictSame([at('now/d', true), at('now-1h/h', true), at('now', true)], ['2026-11-30T23:59:59.999Z', '2026-11-30T13:59:59.999Z', '2026-11-30T14:27:33.250Z']);
});

t.test('ISO dates are UTC midnight, ISO times keep their offset, and an anchor takes math after ||', async (t) => {
  t.strictSame(
    [at('2026-11-01'), at('2026-11-01T12:00:00Z'), at('2026-11-01T12:00:00+02:00'), at('2026-11-01T12:00'), at('2026-11-01||+1d')],
    ['2026-11-01T00:00:00.000Z', '2026-11-01T12:00:00.000Z', '2026-11-01T10:00:00.000Z', '2026-11-01T12:00:00.000Z', '2026-11-02T00:00:00.000Z'],
  );
});

t.test('anything else is refused with one line that shows the accepted forms', async (t) => {
  for (const bad of ['yesterday', 'now-7x', 'now-', '2026-13-01', '01/11/2026', '']) {
    t.throws(() => parseTime(bad, { now }), InvalidArgumentError, bad);
    try {
      parseTime(bad, { now });
    } catch (err) {
      t.match((err as Error).message, /^expected an ISO 8601 date or time .* or date math \(now, now-7d, now\/d, now-1h\/h\)$/, bad);
      t.notMatch((err as Error).message, /\n/);
    }
  }
});

t.test('every command that takes a time parses it with the same date math', async (t) => {
  const { buildProgram } = await import('../../../cli/src/main');
  const program = buildProgram();
  const find = (names: string[]) => names.reduce((c, n) => c.commands.find((x) => x.name() === n)!, program);
  // Anchored math is exact whatever the clock says; `now/y` only moves at new year.
  const start = '2026-11-01||+1d/d';
  const end = '2026-11-01||+1d/d';
  const cases: [string[], string[], string, string][] = [
    [['verify'], ['--from', start, '--to', end], 'from', 'to'],
    [['report'], ['--from', start, '--to', end, '--format', 'json', '--out', '/dev/null'], 'from', 'to'],
    [['search'], ['--from', start, '--to', end], 'from', 'to'],
    [['gaps'], ['--from', start, '--to', end], 'from', 'to'],
  ];
  for (const [names, argv, fromKey, toKey] of cases) {
    const cmd = find(names);
    t.strictSame(cmd.parseOptions(argv), { operands: [], unknown: [] }, names.join(' '));
    const o = cmd.opts<Record<string, Date>>();
    t.strictSame([o[fromKey].toISOString(), o[toKey].toISOString()], ['2026-11-02T00:00:00.000Z', '2026-11-02T23:59:59.999Z'], `${names.join(' ')}: --from rounds down, --to rounds up`);
  }
  const run = find(['retention', 'run']);
  run.parseOptions(['--as-of', 'now/y']);
  t.equal(run.opts<{ asOf: Date }>().asOf.toISOString(), parseTime('now/y').toISOString(), 'retention run --as-of');
});
