// `filewarden up` runs the product: its indexer evaluates the built-in rules (plus --rules) and signs commands
// with a key pair up creates once in the state directory, its collector takes that public key, and every
// argument it passes is one the CLI accepts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { buildProgram } from '../../../cli/src/main';
import { ensureCommandKeys, upChildArgs, upSummary } from '../../../cli/src/pipeline';

const keys = { privateFile: '/s/command-keys/command-signing.key', publicFile: '/s/command-keys/command-signing.pub' };
const base = { hooks: 'auto', collectorMetricsPort: 9464, indexerMetricsPort: 9465, trustedKeysDir: '/s/trusted-keys', commandKeys: keys };

t.test('the indexer gets the built-in rules, the extra rule files, the private key and the retention policy; the collector the public key', async (t) => {
  t.strictSame(upChildArgs({ ...base, rules: ['/r/a.yaml', '/r/b.yaml'], retentionPolicy: '/p/retention.yaml' }), {
    collect: ['collect', '--hooks', 'auto', '--metrics-port', '9464', '--command-pubkey', keys.publicFile],
    index: ['index', '--metrics-port', '9465', '--trusted-keys', '/s/trusted-keys', '--command-key', keys.privateFile, '--rules', 'builtin', '--rules', '/r/a.yaml', '--rules', '/r/b.yaml', '--retention-policy', '/p/retention.yaml'],
  });
  t.strictSame(upChildArgs({ ...base, hooks: 'lsm', rules: [] }), {
    collect: ['collect', '--hooks', 'lsm', '--metrics-port', '9464', '--command-pubkey', keys.publicFile],
    index: ['index', '--metrics-port', '9465', '--trusted-keys', '/s/trusted-keys', '--command-key', keys.privateFile, '--rules', 'builtin'],
  }, 'without --rules and --retention-policy: the built-in pack alone, no retention job');
});

t.test('every argument up gives its children is one the collect and index commands accept', async (t) => {
  const args = upChildArgs({ ...base, rules: ['/r/a.yaml'], retentionPolicy: '/p/retention.yaml' });
  const program = buildProgram();
  for (const [name, argv] of Object.entries(args)) {
    const cmd = program.commands.find((c) => c.name() === name)!;
    t.strictSame(cmd.parseOptions(argv.slice(1)), { operands: [], unknown: [] }, name);
  }
});

t.test('up creates the command key pair once (private key 0600 in a 0700 directory) and reuses it', async (t) => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-up-'));
  t.teardown(() => fs.rmSync(stateDir, { recursive: true, force: true }));
  const logged: string[] = [];
  const first = ensureCommandKeys(stateDir, (l) => logged.push(l));
  t.strictSame(first, { privateFile: path.join(stateDir, 'command-keys', 'command-signing.key'), publicFile: path.join(stateDir, 'command-keys', 'command-signing.pub') });
  t.equal(fs.statSync(first.privateFile).mode & 0o777, 0o600);
  t.equal(fs.statSync(path.dirname(first.privateFile)).mode & 0o777, 0o700);
  t.equal(logged.length, 1);
  const before = fs.readFileSync(first.privateFile, 'utf8');
  t.strictSame(ensureCommandKeys(stateDir, (l) => logged.push(l)), first);
  t.equal(fs.readFileSync(first.privateFile, 'utf8'), before, 'the second start keeps the key the collector already trusts');
  t.equal(logged.length, 1, 'and says nothing');
  fs.rmSync(first.publicFile);
  t.throws(() => ensureCommandKeys(stateDir, () => undefined), { name: 'KeyFileError' }, 'half a pair is refused, not silently replaced');
});

t.test('the end-of-run summary names the indices and the search, report and verify commands', async (t) => {
  const lines = upSummary('/var/lib/fw-other');
  t.match(lines.join('\n'), /filewarden-events-\*.*filewarden-alerts.*filewarden-audit/);
  for (const c of ['search', 'report', 'verify']) t.ok(lines.some((l) => l.includes(`filewarden --state-dir /var/lib/fw-other ${c} --from now`)), c);
});
