// The rule language: errors with their line, glob and condition semantics, thresholds that count a
// retried batch once, and the kernel policy a kernel-scope rule compiles to.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { rulesLint } from '../../../cli/src/rules';
import { AlertEngine } from '../../../indexer/src/alerts/alert-engine';
import { MemoryThresholdStore } from '../../../indexer/src/alerts/threshold-store';
import type { EventDocument } from '../../../contract/src/event-document';
import { kernelPolicy } from '../../../indexer/src/rules/kernel-policy';
import { globPrefix, loadRules, parseRules, RuleFileError } from '../../../indexer/src/rules/rule-loader';
import { compileGlob } from '../../../indexer/src/rules/glob-matcher';

const doc = (path: string, over: { name?: string; uid?: string; write?: boolean; pid?: number } = {}): EventDocument =>
  ({
    '@timestamp': '2026-11-25T10:00:00.000000000Z',
    event: { kind: 'event', category: ['file'], type: ['access'], action: 'open', outcome: 'success' },
    file: { path, name: '', directory: '' },
    process: { pid: over.pid ?? 10, name: over.name ?? 'cat', thread: { id: 10 }, parent: { pid: 1 } },
    user: { id: over.uid ?? '1000', effective: { id: '1000' } },
    group: { id: '1000' },
    host: { name: 'h', id: 'hid', boot: { id: 'b' } },
    filewarden: { access: { read: !over.write, write: !!over.write, create: false, truncate: false }, action: 'allow' },
  }) as unknown as EventDocument;

t.test('a rule file with errors reports each problem with its line and reason', async (t) => {
  const text = ['version: 1', 'rules:', '  - id: ok-rule', '    name: fine', '    match: {path: /etc/shadow}', '  - id: bad', '    name: broken', '    match:', '      path: relative', '      access: [read, exec]', '    action: kill', '    scope: kernel', '    severity: urgent', ''].join('\n');
  const e = t.throws(() => parseRules(text, 'r.yaml')) as unknown as RuleFileError;
  t.ok(e instanceof RuleFileError);
  const got = e.problems.map((p) => `${p.line}: ${p.message}`);
  t.ok(got.some((g) => /^9: .*path\[0\] must be absolute/.test(g)), got.join('\n'));
  t.ok(got.some((g) => /^10: .*access must be one of read, write, create, truncate, not "exec"/.test(g)), got.join('\n'));
  t.ok(got.some((g) => /^13: .*severity must be one of/.test(g)), got.join('\n'));
  t.throws(() => parseRules('rules:\n  - id: x\n    name: y\n    match: {path: [/a/*.log]}\n    action: deny\n', 'd.yaml'), /d.yaml:4: rule 1: deny pushes a kernel entry and needs path_prefix/);
  t.throws(() => parseRules('rules: [\n', 'y.yaml'), /y.yaml:\d+: YAML:/);
  t.throws(() => parseRules('rules:\n  - id: a\n    name: a\n    match: {path: /a}\n  - id: a\n    name: b\n    match: {path: /b}\n', 'u.yaml'), /u.yaml:5: rule id a is used twice \(first at line 2\)/);
  t.equal(loadRules(['builtin']).length > 5, true, 'the built-in pack loads');
});

t.test('every problem of a rule file is reported at once, in line order, at the line of the value or key at fault', async (t) => {
  const text = [
    'version: 2',
    'rules:',
    '  - id: Bad_Id',
    '    name: ""',
    '    colour: red',
    '    match:',
    '      path: etc/passwd',
    '      uid: [0, "x"]',
    '      access: [read, exec]',
    '    threshold: {window: 0s, by: host}',
    '  - name: no id',
    '    match: {}',
    '  - id: fine',
    '    name: fine',
    '    match: {path: /etc/shadow, uid: "9-1"}',
    '    scope: kernel',
    '',
  ].join('\n');
  const e = t.throws(() => parseRules(text, 'b.yaml')) as unknown as RuleFileError;
  t.strictSame(e.problems.map((p) => `${p.file}:${p.line}: ${p.message}`), [
    'b.yaml:1: version must be 1',
    "b.yaml:3: rule 1.id must be lower case letters, digits, '.', '_' or '-': \"Bad_Id\"",
    'b.yaml:4: rule 1.name must be a non-empty string',
    'b.yaml:5: unknown key "colour" in rule 1 (expected id, name, description, severity, tags, match, except, threshold, action, scope)',
    'b.yaml:7: rule 1.match.path[0] must be absolute: "etc/passwd"',
    'b.yaml:8: rule 1.match.uid must be uids or ranges like 1000-59999, not "x"',
    'b.yaml:9: rule 1.match.access must be one of read, write, create, truncate, not "exec"',
    'b.yaml:10: rule 1.threshold.count must be an integer of at least 1',
    'b.yaml:10: rule 1.threshold.window must be longer than 0',
    'b.yaml:11: rule 2 has no id',
    'b.yaml:12: rule 2.match needs at least one condition',
    'b.yaml:15: rule 3.match.uid must be uids or ranges like 1000-59999, not "9-1"',
    'b.yaml:15: rule 3: scope kernel can match only path, path_prefix, process, executable; remove uid or use scope on-alert',
    'b.yaml:16: rule 3: scope applies to kill and deny, not to alert',
  ]);
  t.throws(() => parseRules('rules:\n  - id: a\n    name: a\n    match:\n      path: /a\n      path: /b\n', 'd.yaml'), { message: 'd.yaml:6: YAML: Map keys must be unique' }, 'a key given twice is a YAML error at its second line');
  t.strictSame(
    parseRules('rules:\n  - id: 7\n    name: 0\n    match: {user: 0, uid: 1000-1999, container: false}\n    except: {path_prefix: /tmp/}\n', 'n.yaml')[0],
    { id: '7', name: '0', severity: 'medium', tags: [], match: { user: ['0'], uid: [{ from: 1000, to: 1999 }], container: false }, except: [{ pathPrefix: ['/tmp/'] }], action: 'alert', scope: 'on-alert', source: 'n.yaml:2' },
    'a number stands for its text, and one value for a one-element list',
  );
});

t.test('globs: * stays within a segment, ** crosses them', async (t) => {
  t.ok(compileGlob('/home/*/.ssh/id_*').test('/home/ann/.ssh/id_ed25519'));
  t.notOk(compileGlob('/home/*/.ssh/id_*').test('/home/ann/x/.ssh/id_rsa'));
  t.ok(compileGlob('/etc/cron.d/**').test('/etc/cron.d/a/b'));
  t.notOk(compileGlob('/etc/shadow').test('/etc/shadow-'));
});

t.test('conditions, exceptions, and thresholds that a retried batch does not count twice', async (t) => {
  const rules = parseRules(
    [
      'rules:',
      '  - id: shadow',
      '    name: s',
      '    match: {path: /etc/shadow, access: read, uid: "1000-1999"}',
      '    except: [{process: [login]}]',
      '  - id: burst',
      '    name: b',
      '    match: {path_prefix: /data/}',
      '    threshold: {count: 3, window: 10s, by: [user]}',
      '',
    ].join('\n'),
    'r.yaml',
  );
  const engine = new AlertEngine(rules, new MemoryThresholdStore());
  const at = (id: string, d: EventDocument, tsMs: number) => ({ id, doc: d, tsMs });
  t.same((await engine.evaluate([at('1', doc('/etc/shadow'), 1)])).map((a) => a.rule.id), ['shadow']);
  t.same(await engine.evaluate([at('2', doc('/etc/shadow', { name: 'login' }), 2)]), [], 'exception');
  t.same(await engine.evaluate([at('3', doc('/etc/shadow', { uid: '0' }), 3)]), [], 'uid outside the range');
  t.same(await engine.evaluate([at('4', doc('/etc/shadow', { write: true }), 4)]), [], 'not a read');
  const batch = [at('a', doc('/data/1'), 1000), at('b', doc('/data/2'), 2000), at('c', doc('/data/3'), 3000), at('d', doc('/data/4'), 4000)];
  const first = await engine.evaluate(batch);
  t.same(first.map((a) => [a.rule.id, a.trigger.id, a.count]), [['burst', 'c', 3]], 'one alert per window, at the third event');
  const again = await engine.evaluate(batch);
  t.same(again.map((a) => a.id), first.map((a) => a.id), 'a retried batch raises the same alert id, counted once');
  t.same(await engine.evaluate([at('x', doc('/data/5', { uid: '7' }), 5000)]), [], 'another user has its own count');
  t.equal((await engine.evaluate([at('late', doc('/data/9'), 20_000), at('l2', doc('/data/9'), 20_001), at('l3', doc('/data/9'), 20_002)])).length, 1, 'a new window alerts again');
});

t.test('kernel-scope rules compile to scoped policy entries with allow exceptions', async (t) => {
  const rules = parseRules(
    ['rules:', '  - id: k', '    name: k', '    match: {path: [/srv/secret/**, /etc/shadow], process: [nginx]}', '    except: [{path_prefix: /srv/secret/public/}]', '    action: deny', '    scope: kernel', '  - id: a', '    name: a', '    match: {path: /x}', ''].join('\n'),
    'k.yaml',
  );
  t.same(kernelPolicy(rules).entries, [
    { path: '/srv/secret/', action: 'deny', comm: 'nginx' },
    { path: '/etc/shadow', action: 'deny', comm: 'nginx' },
    { path: '/srv/secret/public/', action: 'allow', comm: 'nginx' },
  ]);
  t.throws(() => parseRules('rules:\n  - id: k\n    name: k\n    match: {path: /a/, user: root}\n    action: kill\n    scope: kernel\n', 'k.yaml'), /scope kernel can match only path, path_prefix, process, executable; remove user/);
});

t.test('a glob over the complexity bound is refused with its file:line, by the loader and by rules lint', async (t) => {
  const long = '/' + 'x'.repeat(300);
  const wild = '/a' + '/?'.repeat(40);
  const text = ['rules:', '  - id: g', '    name: g', '    match:', '      path:', '        - /etc/shadow', `        - ${long}`, `      process: '${wild}'`, '    except: [{executable: /usr/bin/*}]', ''].join('\n');
  const e = t.throws(() => parseRules(text, 'g.yaml')) as unknown as RuleFileError;
  t.strictSame(
    e.problems.map((p) => `${p.file}:${p.line}: ${p.message}`),
    ['g.yaml:7: rule 1.match.path[1] is 301 characters long; a glob has at most 256', 'g.yaml:8: rule 1.match.process[0] has 40 wildcards (*, **, ?); a glob has at most 32'],
  );
  const container = ['rules:', '  - id: c', '    name: c', '    match: {path: /a}', '    except:', `      - container: ['${'*'.repeat(66)}']`, ''].join('\n');
  t.throws(() => parseRules(container, 'c.yaml'), /^c\.yaml:6: rule 1\.except\[0\]\.container\[0\] has 33 wildcards/, 'container id globs too, in an exception');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-rules-bound-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'g.yaml');
  fs.writeFileSync(file, text);
  const out: string[] = [];
  t.equal(rulesLint([file], () => undefined, (l) => out.push(l)), 1, 'rules lint exits 1');
  t.strictSame(out, [`${file}:7: rule 1.match.path[1] is 301 characters long; a glob has at most 256`, `${file}:8: rule 1.match.process[0] has 40 wildcards (*, **, ?); a glob has at most 32`, 'rules: 2 problems']);
  const out2: string[] = [];
  t.equal(rulesLint(['builtin'], (l) => out2.push(l), (l) => out2.push(l)), 0, `every glob of the built-in pack is within the bound: ${out2.join('; ')}`);
});

t.test('the kernel and the matcher agree on what a literal path is: "[" is a literal, only *, ** and ? are wildcards', async (t) => {
  t.strictSame(['/srv/[x]', '/srv/[x]/**', '/etc/shadow', '/etc/cron.d/**', '/etc/*.conf', '/home/*/.ssh/**', '/a?b'].map(globPrefix), ['/srv/[x]', '/srv/[x]/', '/etc/shadow', '/etc/cron.d/', undefined, undefined, undefined]);
  t.equal(compileGlob('/srv/[x]').test('/srv/[x]'), true, 'the matcher reads it as a literal too');
  t.equal(compileGlob('/srv/[x]').test('/srv/x'), false);
});

t.test('an except: with no value means no exceptions, as before the schema', async (t) => {
  const [r] = parseRules('version: 1\nrules:\n  - id: r1\n    name: R\n    match:\n      path: /etc/shadow\n    except:\n', 'inline.yaml');
  t.strictSame(r!.except, []);
});
