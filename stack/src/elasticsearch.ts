// The stack's Elasticsearch: Elastic's official integ-test distribution from Maven Central, plus
// the filewarden-rest-root module (GET /), run by an unprivileged user, bound to loopback.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
// The client is loaded when first used: the collector process, which never needs it, stays lean.
import { StackError } from './errors';
import type { JavaHome } from './java';
import { packageRoot } from './package-root';
import type { ElasticsearchVersion, EsNodePaths, StackPaths } from './paths';
import { LOOPBACK } from './ports';
import { isOurProcess, readPidFile, run, stopPid, tail, tailFile } from './processes';
import type { ElasticsearchNodeState, ElasticsearchState } from './state';

export const ES_DEFAULT_HTTP_PORT = 9200;
export const ES_DEFAULT_TRANSPORT_PORT = 9300;
/** The user Elasticsearch runs as when filewarden runs as root (Elasticsearch refuses root). */
export const ES_USER = 'filewarden';

const distArtifact = (version: string): string => `org.elasticsearch.distribution.integ-test-zip:elasticsearch:${version}:zip`;
const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy';
const MODULE_NAME = 'filewarden-rest-root';

export type Log = (line: string) => void;

/** SHA-512 of a file, streamed (the zips are 130 MB and more). */
async function sha512File(file: string): Promise<string> {
  const hash = crypto.createHash('sha512');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Fetches the distribution through Maven (cached in ~/.m2 and in the state directory), checks its
 * pinned SHA-512 and unpacks it. `FILEWARDEN_ES_ZIP` may name a local copy of the same zip for hosts
 * without Maven Central.
 */
export async function ensureDistribution(p: StackPaths, v: ElasticsearchVersion, log: Log): Promise<void> {
  if (fs.existsSync(path.join(p.esHome, 'lib', `elasticsearch-${v.version}.jar`))) return;
  const artifact = distArtifact(v.version);
  const zipName = `elasticsearch-${v.version}.zip`;
  const given = process.env.FILEWARDEN_ES_ZIP;
  let zip = given ?? path.join(p.esDownloads, zipName);
  if (!fs.existsSync(zip)) {
    if (given) {
      throw new StackError('FW_STACK_DOWNLOAD', `FILEWARDEN_ES_ZIP=${zip} does not exist`, {
        hint: `unset it to download ${artifact} through Maven`,
      });
    }
    log(`elasticsearch: downloading ${artifact} with Maven (first start only)`);
    fs.mkdirSync(p.esDownloads, { recursive: true });
    // -C (strict checksums) where Maven Central serves them; the pinned SHA-512 below checks every version.
    const strict = v.mavenChecksums ? ['-C'] : [];
    const res = await run('mvn', ['-B', '-q', ...strict, DEPENDENCY_PLUGIN, `-Dartifact=${artifact}`, `-DoutputDirectory=${p.esDownloads}`]);
    if (res.spawnError) {
      throw new StackError('FW_STACK_MAVEN', `cannot run mvn: ${res.spawnError.message}`, {
        hint: 'install Maven with: apt-get install maven',
      });
    }
    if (res.code !== 0 || !fs.existsSync(zip)) {
      throw new StackError('FW_STACK_DOWNLOAD', `Maven could not fetch ${artifact} (exit ${res.code})`, {
        details: tail(res.stdout + res.stderr, 20),
        hint: 'check that Maven Central is reachable (mvn settings, proxy), or set FILEWARDEN_ES_ZIP to a local copy of the zip',
      });
    }
    zip = path.join(p.esDownloads, zipName);
  }
  const digest = await sha512File(zip);
  if (digest !== v.sha512) {
    if (!given) fs.rmSync(zip, { force: true });
    throw new StackError('FW_STACK_DOWNLOAD', `${zip} is not the Elasticsearch ${v.version} zip filewarden was built for (SHA-512 ${digest.slice(0, 16)}..., expected ${v.sha512.slice(0, 16)}...)`, {
      hint: given
        ? 'point FILEWARDEN_ES_ZIP at the integ-test zip of exactly that version'
        : `it was removed; if it comes again, remove Maven's copy too: rm -r ~/.m2/repository/org/elasticsearch/distribution/integ-test-zip/elasticsearch/${v.version}`,
    });
  }
  const staging = path.join(p.esDist, `.unpack-${process.pid}`);
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { recursive: true });
  const res = await run('unzip', ['-q', zip, '-d', staging]);
  if (res.spawnError || res.code !== 0) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw new StackError('FW_STACK_DOWNLOAD', `cannot unpack ${zip}: ${res.spawnError?.message ?? tail(res.stderr, 5)}`, {
      hint: res.spawnError ? 'install unzip with: apt-get install unzip' : `the zip may be damaged: remove ${zip} and retry`,
    });
  }
  fs.rmSync(p.esHome, { recursive: true, force: true });
  fs.renameSync(path.join(staging, `elasticsearch-${v.version}`), p.esHome);
  fs.rmSync(staging, { recursive: true, force: true });
}

/**
 * Compiles the REST module against the distribution's own jars (common/ plus the plugin class of
 * the version's major) and installs it as a module.
 */
export async function ensureModule(p: StackPaths, v: ElasticsearchVersion, jdk: JavaHome, log: Log): Promise<void> {
  const src = path.join(packageRoot(), 'stack', 'elasticsearch-module');
  const javaFiles = [...listJava(path.join(src, 'common')), ...listJava(path.join(src, v.moduleSource))];
  const descriptorIn = fs.readFileSync(path.join(src, 'plugin-descriptor.properties.in'), 'utf8');
  const hash = crypto.createHash('sha256');
  hash.update(v.version).update(String(v.javaMajor)).update(descriptorIn);
  for (const f of javaFiles) hash.update(f).update(fs.readFileSync(f));
  const digest = hash.digest('hex');
  const moduleDir = path.join(p.esHome, 'modules', MODULE_NAME);
  const stamp = path.join(moduleDir, '.source-sha256');
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === digest) return;

  log(`elasticsearch: building the ${MODULE_NAME} module`);
  const build = path.join(p.esDir, `.module-build-${process.pid}`);
  fs.rmSync(build, { recursive: true, force: true });
  fs.mkdirSync(path.join(build, 'classes'), { recursive: true });
  const fail = (what: string, r: { stdout: string; stderr: string; spawnError?: Error }): never => {
    fs.rmSync(build, { recursive: true, force: true });
    throw new StackError('FW_STACK_MODULE_BUILD', `${what} failed for the ${MODULE_NAME} module`, {
      details: r.spawnError?.message ?? tail(r.stdout + r.stderr, 20),
      hint: `a JDK ${v.javaMajor}+ with javac and jar is needed (apt-get install openjdk-17-jdk-headless for 8.x)`,
    });
  };
  const javac = await run(path.join(jdk.home, 'bin', 'javac'), [
    '--release', String(v.javaMajor), '-Xlint:all', '-Werror', '-cp', path.join(p.esHome, 'lib', '*'), '-d', path.join(build, 'classes'), ...javaFiles,
  ]);
  if (javac.code !== 0) fail('javac', javac);
  const jar = await run(path.join(jdk.home, 'bin', 'jar'), ['cf', path.join(build, `${MODULE_NAME}.jar`), '-C', path.join(build, 'classes'), '.']);
  if (jar.code !== 0) fail('jar', jar);
  fs.rmSync(path.join(build, 'classes'), { recursive: true });
  fs.writeFileSync(path.join(build, 'plugin-descriptor.properties'), descriptorIn.replaceAll('@VERSION@', v.version).replaceAll('@JAVA@', String(v.javaMajor)));
  fs.writeFileSync(path.join(build, '.source-sha256'), digest);
  fs.rmSync(moduleDir, { recursive: true, force: true });
  fs.renameSync(build, moduleDir);
}

function listJava(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listJava(full));
    else if (e.name.endsWith('.java')) out.push(full);
  }
  return out.sort();
}

export interface RunAs {
  uid: number;
  gid: number;
  user: string;
}

/** Elasticsearch refuses to run as root: as root, run it as a dedicated system user. */
export async function ensureRunAs(stateDir: string): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  let id = await run('id', ['-u', ES_USER]);
  if (id.code !== 0) {
    const add = await run('useradd', ['--system', '--no-create-home', '--home-dir', stateDir, '--shell', '/usr/sbin/nologin', ES_USER]);
    if (add.code !== 0) {
      throw new StackError('FW_STACK_USER', `cannot create the system user ${ES_USER} for Elasticsearch`, {
        details: add.spawnError?.message ?? add.stderr.trim(),
        hint: `create it yourself: useradd --system --shell /usr/sbin/nologin ${ES_USER}`,
      });
    }
    id = await run('id', ['-u', ES_USER]);
  }
  const gid = await run('id', ['-g', ES_USER]);
  return { uid: Number(id.stdout.trim()), gid: Number(gid.stdout.trim()), user: ES_USER };
}

/** How a node finds the others: absent for a one-node stack. */
export interface ClusterConfig {
  /** Every node's transport port, this one's included. */
  seedTransportPorts: number[];
  /** The node names that vote in the first election; only on the cluster's first start. */
  initialMasterNodes?: string[];
}

export function elasticsearchYml(np: EsNodePaths, httpPort: number, transportPort: number, cluster?: ClusterConfig): string {
  const lines = [
    '# Written by `filewarden stack up`; rewritten on every start.',
    'cluster.name: filewarden-local',
    `node.name: ${np.name}`,
    `network.host: ${LOOPBACK}`,
    `http.port: ${httpPort}`,
    `transport.port: ${transportPort}`,
  ];
  if (cluster) {
    lines.push(`discovery.seed_hosts: [${cluster.seedTransportPorts.map((t) => `"${LOOPBACK}:${t}"`).join(', ')}]`);
    if (cluster.initialMasterNodes) lines.push(`cluster.initial_master_nodes: [${cluster.initialMasterNodes.map((n) => `"${n}"`).join(', ')}]`);
  } else {
    lines.push('discovery.type: single-node');
  }
  lines.push(
    `path.data: ${np.data}`,
    `path.logs: ${np.logs}`,
    // A loopback-only development and test node. Production clusters run with security on (docker/).
    'xpack.security.enabled: false',
    '',
  );
  return lines.join('\n');
}

function chownTree(dir: string, who: RunAs | undefined): void {
  if (!who) return;
  fs.chownSync(dir, who.uid, who.gid);
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) chownTree(full, who);
    else fs.lchownSync(full, who.uid, who.gid);
  }
}

const esMarker = (home: string): string => `-Des.path.home=${home}`;

export function elasticsearchRunning(s: ElasticsearchState | undefined): boolean {
  return s !== undefined && isOurProcess(s.pid, esMarker(s.home));
}

export interface EsStartOptions {
  httpPort: number;
  transportPort: number;
  heap: string;
  jdk: JavaHome;
  runAs: RunAs | undefined;
  cluster?: ClusterConfig;
}

/** Where a node records the version that last wrote its data: a newer one upgrades it for good. */
const dataVersionFile = (np: EsNodePaths): string => `${np.data}.version`;

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

/**
 * Refuses to start a version older than the one that last wrote the node's data (Elasticsearch
 * cannot read it back), and says so when a newer one is about to upgrade it in place.
 */
export function checkDataVersion(np: EsNodePaths, version: string, log: Log): void {
  let previous: string | undefined;
  try {
    previous = fs.readFileSync(dataVersionFile(np), 'utf8').trim();
  } catch {
    previous = undefined;
  }
  if (!previous || previous === version) return;
  if (compareVersions(version, previous) < 0) {
    throw new StackError('FW_STACK_ES_VERSION', `the data in ${np.data} was written by Elasticsearch ${previous}, which ${version} cannot read`, {
      hint: `start ${previous} (stack up --es-version ${previous}), or use another --state-dir for ${version}`,
    });
  }
  log(`elasticsearch: ${np.name}: upgrading the data in ${np.data} from ${previous} to ${version}; ${previous} can no longer read it`);
}

/** Starts one node and returns its pid once the launcher reports it started (not yet green). */
export async function startNode(p: StackPaths, np: EsNodePaths, version: string, o: EsStartOptions): Promise<number> {
  // 0700: the node's files (the indexed evidence, logs that quote it) are for its user and root only.
  const nodeDir = path.dirname(np.config);
  if (nodeDir !== p.esDir) {
    // A cluster node's own directory (elasticsearch/node-<i>): its user must be able to enter it.
    fs.mkdirSync(nodeDir, { recursive: true, mode: 0o700 });
    fs.chmodSync(nodeDir, 0o700);
    if (o.runAs) fs.chownSync(nodeDir, o.runAs.uid, o.runAs.gid);
  }
  for (const d of [np.config, np.data, np.logs, np.tmp, np.run]) {
    fs.mkdirSync(d, { recursive: true, mode: 0o700 });
    fs.chmodSync(d, 0o700);
  }
  for (const f of ['jvm.options', 'log4j2.properties']) {
    // Per version: the distribution's own files (9.x's jvm.options differ from 8.x's).
    const dst = path.join(np.config, f);
    const stamp = `${dst}.from`;
    const from = path.join(p.esHome, 'config', f);
    if (!fs.existsSync(dst) || (fs.existsSync(stamp) ? fs.readFileSync(stamp, 'utf8') : '') !== from) {
      fs.copyFileSync(from, dst);
      fs.writeFileSync(stamp, from);
    }
  }
  fs.mkdirSync(path.join(np.config, 'jvm.options.d'), { recursive: true });
  fs.writeFileSync(path.join(np.config, 'jvm.options.d', 'filewarden-heap.options'), `-Xms${o.heap}\n-Xmx${o.heap}\n`);
  fs.writeFileSync(path.join(np.config, 'elasticsearch.yml'), elasticsearchYml(np, o.httpPort, o.transportPort, o.cluster));
  for (const d of [np.config, np.data, np.logs, np.tmp, np.run]) chownTree(d, o.runAs);
  fs.rmSync(np.pid, { force: true });

  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    LANG: 'C.UTF-8',
    HOME: o.runAs ? p.esDir : process.env.HOME,
    ES_JAVA_HOME: o.jdk.home,
    ES_PATH_CONF: np.config,
    ES_TMPDIR: np.tmp,
  };
  // -d returns once the node has started (or failed); -s keeps the launcher's own output short.
  const res = await run(path.join(p.esHome, 'bin', 'elasticsearch'), ['-d', '-s', '-p', np.pid], {
    env,
    cwd: p.esHome,
    uid: o.runAs?.uid,
    gid: o.runAs?.gid,
    timeoutMs: 180_000,
  });
  fs.writeFileSync(np.launcherLog, res.stdout + res.stderr);
  const serverLog = path.join(np.logs, 'filewarden-local.log');
  if (res.spawnError || res.code !== 0) {
    throw new StackError('FW_STACK_ES_START', `Elasticsearch ${np.name} did not start (launcher exit ${res.code ?? res.spawnError?.message})`, {
      details: [tail(res.stdout + res.stderr, 15), tailFile(serverLog, 15)].join('\n'),
      hint: `see ${np.launcherLog} and ${serverLog}`,
    });
  }
  const pid = readPidFile(np.pid);
  if (!pid) {
    throw new StackError('FW_STACK_ES_START', `Elasticsearch ${np.name} wrote no pid file at ${np.pid}`, { hint: `see ${serverLog}` });
  }
  fs.writeFileSync(dataVersionFile(np), version);
  return pid;
}

/** Waits for green health with `nodes` nodes; returns the served version. */
export async function waitGreen(url: string, nodes: number, logHint: string): Promise<string> {
  const { Client } = await import('@elastic/elasticsearch');
  const client = new Client({ node: url, requestTimeout: 130_000 });
  try {
    const health = await client.cluster.health({ wait_for_status: 'green', wait_for_nodes: String(nodes), timeout: '120s' });
    if (health.status !== 'green' || health.number_of_nodes !== nodes) {
      throw new StackError('FW_STACK_ES_START', `Elasticsearch health is ${health.status} with ${health.number_of_nodes} of ${nodes} nodes after 120 s, not green`, {
        details: JSON.stringify(health),
        hint: `see ${logHint}`,
      });
    }
    const info = await client.info();
    return info.version.number;
  } catch (err) {
    if (err instanceof StackError) throw err;
    throw new StackError('FW_STACK_ES_START', `Elasticsearch at ${url} is not healthy: ${(err as Error).message}`, { hint: `see ${logHint}` });
  } finally {
    await client.close();
  }
}

/** The state's nodes: a one-node stack recorded only its top-level fields. */
export function esNodes(s: ElasticsearchState): ElasticsearchNodeState[] {
  return s.nodes ?? [{ name: 'filewarden-local-0', pid: s.pid, httpPort: s.httpPort, transportPort: s.transportPort }];
}

export const nodeRunning = (s: ElasticsearchState, n: ElasticsearchNodeState): boolean => isOurProcess(n.pid, esMarker(s.home));

export async function stopElasticsearch(s: ElasticsearchState): Promise<string[]> {
  const out: string[] = [];
  // The others first, node 0 (the one clients use) last.
  for (const n of [...esNodes(s)].reverse()) {
    const label = s.nodes ? `elasticsearch ${n.name}` : 'elasticsearch';
    if (!nodeRunning(s, n)) {
      out.push(`${label}: pid ${n.pid} is not running (nothing to stop)`);
      continue;
    }
    out.push(`${label}: pid ${n.pid} ${await stopPid(n.pid, 60_000)}`);
  }
  return out;
}
