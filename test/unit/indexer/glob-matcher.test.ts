// Rule globs: the linear-time matcher gives what the rule language always gave (the RegExp
// translation it replaced is kept here as the oracle), and the patterns that made that RegExp
// backtrack for minutes get the right answer on PATH_MAX-long paths.
import t from 'tap';
import { anyGlob, compileGlob, globProblem, globWildcards, GLOB_LIMITS } from '../../../indexer/src/rules/glob-matcher';

/** The replaced semantics, verbatim: `**` any characters, `*` any but '/', `?` one but '/', anchored. */
function oracle(glob: string): RegExp {
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

/** A seeded generator, so a failure names a case that can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const CASES: [glob: string, path: string, match: boolean][] = [
  ['/etc/shadow', '/etc/shadow', true],
  ['/etc/shadow', '/etc/shadow-', false],
  ['/etc/shadow', '/etc/shado', false],
  ['/home/*/.ssh/id_*', '/home/ann/.ssh/id_ed25519', true],
  ['/home/*/.ssh/id_*', '/home/ann/x/.ssh/id_rsa', false],
  ['/home/*/.ssh/id_*', '/home//.ssh/id_', true],
  ['/home/*/.ssh/id_*.pub', '/home/ann/.ssh/id_rsa.pub', true],
  ['/home/*/.ssh/id_*.pub', '/home/ann/.ssh/id_rsa.pub/x', false],
  ['/etc/cron.d/**', '/etc/cron.d/a/b', true],
  ['/etc/cron.d/**', '/etc/cron.d/', true],
  ['/etc/cron.d/**', '/etc/cron.d', false],
  ['/etc/cron.d/**', '/etc/cron.dx/a', false],
  ['/**', '/', true],
  ['**', '', true],
  ['*', '', true],
  ['*', 'a/b', false],
  ['**', 'a/b', true],
  ['?', '', false],
  ['?', '/', false],
  ['?', 'x', true],
  ['?', 'xy', false],
  ['a?c', 'abc', true],
  ['a?c', 'a/c', false],
  ['/**/x', '/x', false],
  ['/**/x', '//x', true],
  ['/**/x', '/a/b/x', true],
  ['/**x', '/x', true],
  ['***', 'a/b', true],
  ['a***b', 'a/x/b', true],
  ['a****b', 'a/x/b', true],
  ['*.log', 'x.log', true],
  ['*.log', 'xlog', false],
  ['(sd-*)', '(sd-pam)', true],
  ['(sd-*)', 'sd-pam', false],
  ['a.b', 'axb', false],
  ['a+b', 'a+b', true],
  ['[ab]', 'a', false],
  ['[ab]', '[ab]', true],
  ['^$\\{}|', '^$\\{}|', true],
  ['/tmp/*', '/tmp/a\nb', true],
  ['/tmp/?', '/tmp/\n', true],
  ['/tmp/**', '/tmp/\n/\n', true],
  ['/x/é*', '/x/été', true],
  ['/x/?', '/x/é', true],
  ['/x/?', '/x/😀', false], // two UTF-16 code units: `?` matched one, as the RegExp without the u flag did
  ['/x/??', '/x/😀', true],
  ['/**/a/**/a/**/a/**/zzz', '/a/a/a/zzz', false], // each `/**/` needs two slashes of its own
  ['/**/a/**/a/**/a/**/zzz', '/x/a/y/a/z/a/q/zzz', true],
  ['/**/a/**/a/**/a/**/zzz', '/a/a/a/a/a/a', false],
];

t.test('globs match as the rule language always matched them', async (t) => {
  const got = CASES.map(([g, p]) => compileGlob(g).test(p));
  t.strictSame(got, CASES.map(([, , m]) => m), 'every case gives its expected answer');
  t.strictSame(got, CASES.map(([g, p]) => oracle(g).test(p)), 'and the answer the replaced RegExp gave');
});

t.test('random globs and paths: the matcher agrees with the replaced RegExp', async (t) => {
  const r = rng(20261125);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const atoms = ['a', 'b', '/', '.', '*', '**', '?'];
  const fill = (atom: string): string => {
    if (atom === '?') return pick(['a', 'b', '.']);
    if (atom === '*') return Array.from({ length: Math.floor(r() * 3) }, () => pick(['a', 'b', '.'])).join('');
    if (atom === '**') return Array.from({ length: Math.floor(r() * 4) }, () => pick(['a', 'b', '/'])).join('');
    return atom;
  };
  const mutate = (s: string): string => {
    if (s.length === 0 || r() < 0.3) return s + pick(['a', '/']);
    const i = Math.floor(r() * s.length);
    return r() < 0.5 ? s.slice(0, i) + s.slice(i + 1) : s.slice(0, i) + pick(['a', 'b', '/']) + s.slice(i + 1);
  };
  const mismatches: string[] = [];
  let positives = 0;
  let total = 0;
  for (let k = 0; k < 3000; k++) {
    // Short globs mix wildcards freely; long ones (over 32 positions, several bitset words) are mostly literal.
    const long = k % 3 === 0;
    const parts = Array.from({ length: long ? 35 + Math.floor(r() * 60) : 1 + Math.floor(r() * 10) }, () => (long && r() < 0.93 ? pick(['a', 'b', '/']) : pick(atoms)));
    const glob = parts.join('');
    const made = parts.map(fill).join('');
    const random = Array.from({ length: Math.floor(r() * (long ? 100 : 14)) }, () => pick(['a', 'b', '/', '.'])).join('');
    const m = compileGlob(glob);
    const o = oracle(glob);
    for (const p of [made, mutate(made), mutate(mutate(made)), random]) {
      total++;
      const want = o.test(p);
      if (want) positives++;
      if (m.test(p) !== want) mismatches.push(`${JSON.stringify(glob)} on ${JSON.stringify(p)}: want ${want}`);
    }
  }
  t.strictSame(mismatches.slice(0, 10), [], `${total} glob/path pairs agree (${positives} matches)`);
  t.ok(positives > total / 4 && positives < (total * 3) / 4, `both answers are well represented (${positives} of ${total})`);
});

t.test('the patterns that made the RegExp backtrack get the right answer on 4,096-byte paths', async (t) => {
  const as = '/a'.repeat(2048); // 4,096 bytes, 2,048 components
  t.equal(as.length, 4096);
  const hit = '/a'.repeat(2046) + '/zzz';
  const cases: [string, string, boolean][] = [
    ['/**/a/**/a/**/a/**/zzz', as, false],
    ['/**/a/**/a/**/a/**/zzz', hit, true],
    ['/**a**a**a**a**a**a**zzz', as, false],
    ['/**a**a**a**a**a**a**zzz', hit, true],
    ['/**/?/**/?/**/?/**/zzz', as, false],
    ['/**/?/**/?/**/?/**/zzz', hit, true],
    // One component of 4,095 bytes: `*` cannot cross a '/', so this is the `*` worst case.
    ['/*a*a*a*a*a*a*zzz', '/' + 'a'.repeat(4095), false],
    ['/*a*a*a*a*a*a*zzz', '/' + 'a'.repeat(4092) + 'zzz', true],
    ['/*?*?*?*?*?*?*zzz', '/' + 'a'.repeat(4095), false],
    ['/*?*?*?*?*?*?*zzz', '/' + 'a'.repeat(4092) + 'zzz', true],
    ['/*a*a*a*/zzz', '/' + 'a'.repeat(4090) + '/zzz', true],
    ['/*a*a*a*/zzz', '/' + 'a'.repeat(4090) + '/zz', false],
  ];
  // The largest glob the loader accepts: 256 characters, 32 wildcards, 9 bitset words.
  const biggest = ('/**/a' + '/*a'.repeat(5) + '/?').repeat(3) + '/**'.repeat(11) + '/zzz';
  const padded = biggest + 'z'.repeat(GLOB_LIMITS.maxLength - biggest.length);
  t.equal(globProblem(padded), undefined, `the biggest test glob (${padded.length} characters, ${globWildcards(padded)} wildcards) is within the bound`);
  cases.push([padded, as, false]);
  t.strictSame(
    cases.map(([g, p]) => compileGlob(g).test(p)),
    cases.map(([, , m]) => m),
  );
});

t.test('a glob over the complexity bound is named with the reason; the shipped kind is not', async (t) => {
  t.equal(globProblem('/home/*/.ssh/id_*'), undefined);
  t.equal(globProblem('/' + 'x'.repeat(GLOB_LIMITS.maxLength - 1)), undefined, 'exactly the length bound is allowed');
  t.match(globProblem('/' + 'x'.repeat(GLOB_LIMITS.maxLength)), /is 257 characters long; a glob has at most 256/);
  t.equal(globProblem('/a' + '/*'.repeat(GLOB_LIMITS.maxWildcards)), undefined, 'exactly the wildcard bound is allowed');
  t.match(globProblem('/a' + '/*'.repeat(GLOB_LIMITS.maxWildcards + 1)), /has 33 wildcards \(\*, \*\*, \?\); a glob has at most 32/);
  t.strictSame([globWildcards('/**/a/*?'), globWildcards('***'), globWildcards('/etc/shadow')], [3, 2, 0], '`**` counts once, `***` is `**` then `*`');
});

t.test('anyGlob holds when any glob matches, and never for a missing value', async (t) => {
  const f = anyGlob(['/etc/shadow', '/home/*/.ssh/*'])!;
  t.strictSame([f('/etc/shadow'), f('/home/a/.ssh/k'), f('/home/a/b/.ssh/k'), f(undefined)], [true, true, false, false]);
  t.equal(anyGlob(undefined), undefined);
});
