// `npm run bench:glob`: the time of one rule-glob match on long paths with the patterns that made
// the old RegExp translation backtrack. Baseline, measured in the same run on the same path: one
// full scan of it (indexOf of a string it does not hold). The old RegExp runs once, and only where
// it finishes within a second or so: the 400-byte paths for the `**` patterns and 40 bytes for the
// `*` one. Elsewhere it backtracks for seconds to hours, so it is skipped, and the table says so.
// The machine may be shared: each figure is the fastest of several rounds.
import os from 'node:os';
import { compileGlob, globProblem } from '../indexer/src/rules/glob-matcher';
import { printTable } from './workload';

/** The replaced translation (rule-matcher.ts before the glob matcher), kept here for comparison only. */
function oldRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      out += '.*';
      i++;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`, 's');
}

/** Each figure is the fastest of ROUNDS rounds of at least ROUND_MS: the least disturbed by other load. */
const ROUNDS = Number(process.env.FW_BENCH_GLOB_ROUNDS ?? 7);
const ROUND_NS = Number(process.env.FW_BENCH_GLOB_ROUND_MS ?? 30) * 1e6;

let sink = 0;

/** ns per call of `f`. */
function perCall(f: () => boolean): number {
  for (let i = 0; i < 100; i++) sink += f() ? 1 : 0;
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    let n = 0;
    const t0 = process.hrtime.bigint();
    let el = 0;
    do {
      for (let i = 0; i < 16; i++) sink += f() ? 1 : 0;
      n += 16;
      el = Number(process.hrtime.bigint() - t0);
    } while (el < ROUND_NS);
    best = Math.min(best, el / n);
  }
  return best;
}

function once(f: () => boolean): number {
  const t0 = process.hrtime.bigint();
  sink += f() ? 1 : 0;
  return Number(process.hrtime.bigint() - t0);
}

const fmt = (ns: number): string => (ns >= 1e6 ? `${(ns / 1e6).toFixed(1)} ms/match` : `${(ns / 1000).toFixed(2)} µs/match`);

// The largest glob the loader accepts (256 characters, 32 wildcards), shaped to keep every position live.
const biggest = (('/**/a' + '/*a'.repeat(5) + '/?').repeat(3) + '/**'.repeat(11) + '/zzz').padEnd(256, 'z');

/** `oldBytes`: the one path length the old RegExp is timed on (0: never). */
const PATTERNS: { glob: string; path: (bytes: number) => string; what: string; oldBytes: number }[] = [
  { glob: '/**/a/**/a/**/a/**/zzz', path: (b) => '/a'.repeat(b / 2), what: '/a repeated', oldBytes: 400 },
  { glob: '/**/?/**/?/**/?/**/zzz', path: (b) => '/a'.repeat(b / 2), what: '/a repeated', oldBytes: 400 },
  { glob: '/*a*a*a*a*a*a*zzz', path: (b) => '/' + 'a'.repeat(b - 1), what: 'one component', oldBytes: 40 },
  { glob: biggest, path: (b) => '/a'.repeat(b / 2), what: '/a repeated', oldBytes: 0 },
];

function main(): void {
  if (globProblem(biggest)) throw new Error(`the biggest glob is over the bound: ${globProblem(biggest)}`);
  console.log(`rule globs: linear-time matcher vs the old RegExp, ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}`);
  console.log('the old RegExp is timed once, where it finishes within about a second; elsewhere it is skipped (it backtracks for seconds to hours)');
  for (const bytes of [400, 800, 4096]) {
    const path = '/a'.repeat(bytes / 2);
    const scan = perCall(() => path.indexOf('zzz') >= 0);
    const prefix = perCall(() => path.startsWith('/etc/'));
    const typical = compileGlob('/home/*/.ssh/id_*');
    const early = perCall(() => typical.test(path));
    const rows: Parameters<typeof printTable>[0] = [
      { name: `baseline: scan ${bytes} bytes (indexOf)`, value: fmt(scan), note: `${bytes / 2} components` },
      { name: 'startsWith (a path_prefix condition)', value: fmt(prefix), ratio: prefix / scan },
      { name: "glob '/home/*/.ssh/id_*'", value: fmt(early), ratio: early / scan, note: 'no position live after 2 bytes' },
    ];
    for (const p of PATTERNS) {
      const s = p.path(bytes);
      const m = compileGlob(p.glob);
      const ns = perCall(() => m.test(s));
      const label = p.glob.length > 30 ? `biggest allowed glob (${p.glob.length} chars)` : `glob '${p.glob}'`;
      rows.push({ name: label, value: fmt(ns), ratio: ns / scan, note: `${p.what}; ${m.test(s) ? 'match' : 'no match'}` });
      if (p.oldBytes === bytes) rows.push({ name: '  old RegExp, same glob and path', value: fmt(once(() => oldRegExp(p.glob).test(s))), note: 'one run' });
      else if (p.oldBytes > 0 && bytes === 400) {
        const short = p.path(p.oldBytes);
        rows.push({ name: `  old RegExp, same glob, ${p.oldBytes}-byte path`, value: fmt(once(() => oldRegExp(p.glob).test(short))), note: `one run; skipped at ${bytes} bytes` });
      } else if (p.oldBytes > 0) rows.push({ name: '  old RegExp, same glob and path', value: 'skipped', note: 'backtracks for seconds or more' });
    }
    console.log('');
    printTable(rows);
  }
  if (sink < 0) console.log(sink);
}

main();
