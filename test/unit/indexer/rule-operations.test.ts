// The rule language over every file operation (docs/rules.md): on:, special:, target:, which names
// of a rename or link a path condition reads, and why scope: kernel takes no narrower on:.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { rulesTest } from '../../../cli/src/rules';
import type { EventDocument } from '../../../contract/src/event-document';
import { kernelPolicy } from '../../../indexer/src/rules/kernel-policy';
import { parseRules, RuleFileError } from '../../../indexer/src/rules/rule-loader';
import { compileRule } from '../../../indexer/src/rules/rule-matcher';
import { OPERATION_NAMES } from '../../../indexer/src/rules/rule-types';
import { O, operationDocument as op, versionOneOpen } from '../../utils/operation-events';

/** A file of rules with the given match (and except) blocks, as YAML flow mappings. */
function rulesOf(...rules: { match: string; except?: string; extra?: string[] }[]): string {
  return ['rules:', ...rules.flatMap((r, i) => [`  - id: r${i + 1}`, `    name: r${i + 1}`, `    match: ${r.match}`, ...(r.except ? [`    except: ${r.except}`] : []), ...(r.extra ?? []).map((x) => `    ${x}`)]), ''].join('\n');
}

/** Which of the rules fire on each document, one list per document. */
function fired(text: string, docs: EventDocument[]): string[][] {
  const rules = parseRules(text, 'r.yaml').map(compileRule);
  return docs.map((d) => rules.filter((r) => r.matches(d)).map((r) => r.rule.id));
}

function problems(text: string): string[] {
  const e = t.throws(() => parseRules(text, 'p.yaml')) as unknown as RuleFileError;
  return e instanceof RuleFileError ? e.problems.map((p) => `${p.line}: ${p.message}`) : [String(e)];
}

t.test('on: matches the operation, one name stands for a list, and a document with no operation is an open', async (t) => {
  const text = rulesOf({ match: '{path_prefix: /srv/, on: [unlink, rename]}' }, { match: '{path_prefix: /srv/, on: open}' }, { match: '{path_prefix: /srv/, on: [truncate]}' });
  t.strictSame(
    fired(text, [op('unlink', '/srv/a'), op('rename', '/srv/b', { second: '/srv/a' }), op('open', '/srv/a'), versionOneOpen('/srv/a'), op('truncate', '/srv/a', { length: 0n }), op('chmod', '/srv/a'), op('unlink', '/etc/a')]),
    [['r1'], ['r1'], ['r2'], ['r2'], ['r3'], [], []],
  );
  t.strictSame(parseRules(text, 'r.yaml').map((r) => r.match.on), [['unlink', 'rename'], ['open'], ['truncate']], 'a single name is read as a one-element list');
});

t.test('a rule without on: matches every operation on its path, and access: still matches opens only', async (t) => {
  const text = rulesOf({ match: '{path: /etc/shadow}' }, { match: '{path: /etc/shadow, access: [write, truncate]}' });
  const docs = OPERATION_NAMES.map((name) => op(name, '/etc/shadow', name === 'open' ? { openFlags: O.WRONLY | O.TRUNC } : {}));
  t.strictSame(fired(text, docs), OPERATION_NAMES.map((name) => (name === 'open' ? ['r1', 'r2'] : ['r1'])));
  t.strictSame(fired(text, [op('open', '/etc/shadow'), versionOneOpen('/etc/shadow', { openFlags: O.WRONLY })]), [['r1'], ['r1', 'r2']], 'a version-1 open keeps matching exactly as before');
});

t.test('special: matches any of the special bits a chmod sets, and no other operation', async (t) => {
  const text = rulesOf({ match: '{path_prefix: /usr/, special: [setuid, setgid]}' }, { match: '{path_prefix: /usr/, special: world-writable}' });
  t.strictSame(
    fired(text, [op('chmod', '/usr/bin/x', { mode: 0o4755 }), op('chmod', '/usr/bin/x', { mode: 0o2755 }), op('chmod', '/usr/bin/x', { mode: 0o777 }), op('chmod', '/usr/bin/x', { mode: 0o1755 }), op('chmod', '/usr/bin/x', { mode: 0o755 }), op('open', '/usr/bin/x', { openFlags: O.CREAT | O.WRONLY, mode: 0o4755 }), op('mkdir', '/usr/x', { mode: 0o777 })]),
    [['r1'], ['r1'], ['r2'], [], [], [], []],
    'setuid and setgid, world-writable, sticky alone, none; a create mode is no chmod',
  );
});

t.test('a path condition matches either name of a rename or a link; an exception must cover every name', async (t) => {
  const text = rulesOf({ match: '{path: /usr/bin/*}', except: '[{path: [/usr/bin/*.dpkg-new, /tmp/**]}]' }, { match: '{path_prefix: /etc/shadow}' });
  t.strictSame(
    fired(text, [
      op('rename', '/usr/bin/ls', { second: '/tmp/evil' }),
      op('rename', '/tmp/ls', { second: '/usr/bin/ls' }),
      op('rename', '/usr/bin/ls', { second: '/usr/bin/ls.dpkg-new' }),
      op('rename', '/usr/bin/ls.dpkg-new', { second: '/tmp/ls' }),
      op('link', '/tmp/s', { second: '/etc/shadow' }),
      op('symlink', '/tmp/s', { second: '/etc/shadow' }),
    ]),
    [['r1'], ['r1'], ['r1'], [], ['r2'], []],
    'onto and away from a protected path both fire; the exception holds only when both names are excepted; a symlink target is no name acted on',
  );
});

t.test('target: matches a link\'s existing file and a symlink\'s target as written', async (t) => {
  const text = rulesOf({ match: "{target: [/etc/shadow, '**/etc/shadow']}" });
  t.strictSame(
    fired(text, [op('symlink', '/tmp/s', { second: '/etc/shadow' }), op('symlink', '/tmp/s', { second: '../../etc/shadow' }), op('link', '/tmp/h', { second: '/etc/shadow' }), op('symlink', '/tmp/s', { second: '/etc/hosts' }), op('open', '/etc/shadow')]),
    [['r1'], ['r1'], ['r1'], [], []],
  );
});

t.test('an unknown operation or special bit is a lint error at its line', async (t) => {
  const text = ['rules:', '  - id: a', '    name: a', '    match:', '      path: /x', '      on: [unlink, delete]', '      special: suid', ''].join('\n');
  t.strictSame(problems(text), [
    `6: rule 1.match.on must be one of ${OPERATION_NAMES.join(', ')}, not "delete"`,
    '7: rule 1.match.special must be one of setuid, setgid, sticky, world-writable, not "suid"',
  ]);
});

t.test('access: or special: next to an on: that cannot have them is a lint error, not a rule that never fires', async (t) => {
  const text = ['rules:', '  - id: a', '    name: a', '    match:', '      path: /x', '      on: [unlink]', '      access: write', '  - id: b', '    name: b', '    match: {path: /x, on: [open, rename], special: setuid}', ''].join('\n');
  t.strictSame(problems(text), ['6: rule 1.match: access matches open only, and on does not list open', '10: rule 2.match: special matches chmod only, and on does not list chmod']);
});

t.test('scope: kernel carries its on: into the entries (and its exceptions\'), refuses modify with one line; no on: is every operation', async (t) => {
  const narrow = parseRules(rulesOf({ match: '{path_prefix: /srv/secret/, on: [unlink, rename]}', except: '[{path_prefix: /srv/secret/tmp/}]', extra: ['action: deny', 'scope: kernel'] }), 'k.yaml');
  t.strictSame(kernelPolicy(narrow).entries, [
    { path: '/srv/secret/', action: 'deny', ops: ['unlink', 'rename'] },
    { path: '/srv/secret/tmp/', action: 'allow', ops: ['unlink', 'rename'] },
  ]);
  const text = rulesOf({ match: '{path_prefix: /srv/secret/, on: [open, modify]}', extra: ['action: deny', 'scope: kernel'] });
  t.strictSame(problems(text), ['4: rule 1: scope: kernel cannot act on modify (a write session is judged at its open): use on: [open] for the opens for writing, or scope: on-alert']);
  const every = parseRules(rulesOf({ match: `{path_prefix: /srv/secret/, on: [${OPERATION_NAMES.join(', ')}]}`, extra: ['action: deny', 'scope: kernel'] }), 'k.yaml');
  const none = parseRules(rulesOf({ match: '{path_prefix: /srv/secret/}', extra: ['action: deny', 'scope: kernel'] }), 'k.yaml');
  t.strictSame(kernelPolicy(every).entries, [{ path: '/srv/secret/', action: 'deny', ops: [...OPERATION_NAMES] }]);
  t.strictSame(kernelPolicy(none).entries, [{ path: '/srv/secret/', action: 'deny' }]);
  t.strictSame(problems(rulesOf({ match: '{path_prefix: /srv/, special: setuid}', extra: ['action: kill', 'scope: kernel'] })), ['4: rule 1: scope kernel can match only path, path_prefix, process, executable; remove special or use scope on-alert']);
  t.doesNotThrow(() => parseRules(rulesOf({ match: '{path_prefix: /srv/, on: unlink}', extra: ['action: kill'] }), 'a.yaml'), 'on-alert scope takes any on:');
});

t.test('rules test names the operation and the other name of each alert, so a rename onto a path reads apart from an open of it', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-rules-ops-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const rules = path.join(dir, 'r.yaml');
  fs.writeFileSync(rules, rulesOf({ match: '{path_prefix: /usr/bin/}' }));
  const events = path.join(dir, 'e.ndjson');
  const docs = [op('rename', '/usr/bin/ls', { comm: 'mv', second: '/tmp/ls' }), op('open', '/usr/bin/ls', { comm: 'cat' })];
  fs.writeFileSync(events, docs.map((d) => JSON.stringify(d)).join('\n') + '\n');
  const out: string[] = [];
  t.equal(await rulesTest([rules], { events }, (l) => out.push(l), () => undefined), 0);
  t.strictSame(out, ['line 1: r1 (medium, alert): mv rename /usr/bin/ls (from /tmp/ls)', 'line 2: r1 (medium, alert): cat open /usr/bin/ls']);
  const json: string[] = [];
  await rulesTest([rules], { events, json: true }, (l) => json.push(l), () => undefined);
  t.strictSame(json.map((l) => { const { operation, path: p, other_path } = JSON.parse(l) as Record<string, unknown>; return { operation, path: p, other_path }; }), [
    { operation: 'rename', path: '/usr/bin/ls', other_path: '/tmp/ls' },
    { operation: 'open', path: '/usr/bin/ls', other_path: undefined },
  ]);
});
