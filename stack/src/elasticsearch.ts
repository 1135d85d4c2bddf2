// The stack's Elasticsearch: Elastic's official integ-test distribution from Maven Central, plus
// the filewarden-rest-root module (GET /), run by an unprivileged user, bound to loopback.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
// The client is loaded when first used: the collector process, which never needs it, stays lean.
import { StackError } from './errors';
import type { JavaHome } from './java';
import { packageRoot } from './package-root';
import { ELASTICSEARCH_VERSION, type StackPaths } from './paths';
import { LOOPBACK } from './ports';
import { isOurProcess, readPidFile, run, stopPid, tail, tailFile } from './processes';
import type { ElasticsearchState } from './state';

export const ES_DEFAULT_HTTP_PORT = 9200;
export const ES_DEFAULT_TRANSPORT_PORT = 9300;
/** The user Elasticsearch runs as when filewarden runs as root (Elasticsearch refuses root). */
export const ES_USER = 'filewarden';

const DIST_ARTIFACT = `org.elasticsearch.distribution.integ-test-zip:elasticsearch:${ELASTICSEARCH_VERSION}:zip`;
const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy';
const MODULE_NAME = 'filewarden-rest-root';

export type Log = (line: string) => void;

/**
 * Fetches the distribution through Maven (cached in ~/.m2 and in the state directory) and unpacks
 * it. `FILEWARDEN_ES_ZIP` may name a local copy of the same zip for hosts without Maven Central.
 */
export async function ensureDistribution(p: StackPaths, log: Log): Promise<void> {
  if (fs.existsSync(path.join(p.esHome, 'lib', `elasticsearch-${ELASTICSEARCH_VERSION}.jar`))) return;
  const zipName = `elasticsearch-${ELASTICSEARCH_VERSION}.zip`;
  let zip = process.env.FILEWARDEN_ES_ZIP ?? path.join(p.esDownloads, zipName);
  if (!fs.existsSync(zip)) {
    if (process.env.FILEWARDEN_ES_ZIP) {
      throw new StackError('FW_STACK_DOWNLOAD', `FILEWARDEN_ES_ZIP=${zip} does not exist`, {
        hint: `unset it to download ${DIST_ARTIFACT} through Maven`,
      });
    }
    log(`elasticsearch: downloading ${DIST_ARTIFACT} with Maven (first start only)`);
    fs.mkdirSync(p.esDownloads, { recursive: true });
    const res = await run('mvn', ['-B', '-q', '-C', DEPENDENCY_PLUGIN, `-Dartifact=${DIST_ARTIFACT}`, `-DoutputDirectory=${p.esDownloads}`]);
    if (res.spawnError) {
      throw new StackError('FW_STACK_MAVEN', `cannot run mvn: ${res.spawnError.message}`, {
        hint: 'install Maven with: apt-get install maven',
      });
    }
    if (res.code !== 0 || !fs.existsSync(zip)) {
      throw new StackError('FW_STACK_DOWNLOAD', `Maven could not fetch ${DIST_ARTIFACT} (exit ${res.code})`, {
        details: tail(res.stdout + res.stderr, 20),
        hint: 'check that Maven Central is reachable (mvn settings, proxy), or set FILEWARDEN_ES_ZIP to a local copy of the zip',
      });
    }
    zip = path.join(p.esDownloads, zipName);
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
  fs.renameSync(path.join(staging, `elasticsearch-${ELASTICSEARCH_VERSION}`), p.esHome);
  fs.rmSync(staging, { recursive: true, force: true });
}

/** Compiles the REST module against the distribution's own jars and installs it as a module. */
export async function ensureModule(p: StackPaths, jdk: JavaHome, log: Log): Promise<void> {
  const src = path.join(packageRoot(), 'stack', 'elasticsearch-module');
  const javaFiles = listJava(path.join(src, 'src'));
  const descriptorIn = fs.readFileSync(path.join(src, 'plugin-descriptor.properties.in'), 'utf8');
  const hash = crypto.createHash('sha256');
  hash.update(ELASTICSEARCH_VERSION).update(descriptorIn);
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
      hint: 'a JDK 17+ with javac and jar is needed (apt-get install openjdk-17-jdk-headless)',
    });
  };
  const javac = await run(path.join(jdk.home, 'bin', 'javac'), [
    '--release', '17', '-Xlint:all', '-Werror', '-cp', path.join(p.esHome, 'lib', '*'), '-d', path.join(build, 'classes'), ...javaFiles,
  ]);
  if (javac.code !== 0) fail('javac', javac);
  const jar = await run(path.join(jdk.home, 'bin', 'jar'), ['cf', path.join(build, `${MODULE_NAME}.jar`), '-C', path.join(build, 'classes'), '.']);
  if (jar.code !== 0) fail('jar', jar);
  fs.rmSync(path.join(build, 'classes'), { recursive: true });
  fs.writeFileSync(path.join(build, 'plugin-descriptor.properties'), descriptorIn.replaceAll('@VERSION@', ELASTICSEARCH_VERSION));
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

export function elasticsearchYml(p: StackPaths, httpPort: number, transportPort: number): string {
  return [
    '# Written by `filewarden stack up`; rewritten on every start.',
    'cluster.name: filewarden-local',
    'node.name: filewarden-local-0',
    `network.host: ${LOOPBACK}`,
    `http.port: ${httpPort}`,
    `transport.port: ${transportPort}`,
    'discovery.type: single-node',
    `path.data: ${p.esData}`,
    `path.logs: ${p.esLogs}`,
    // A loopback-only development and test node. Production clusters run with security on (docker/).
    'xpack.security.enabled: false',
    '',
  ].join('\n');
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
}

/** Starts the node and waits for green health. Returns the state and the seconds to green. */
export async function startElasticsearch(p: StackPaths, o: EsStartOptions): Promise<{ state: ElasticsearchState; secondsToGreen: number }> {
  // 0700: the node's files (the indexed evidence, logs that quote it) are for its user and root only.
  for (const d of [p.esConfig, p.esData, p.esLogs, p.esTmp, p.esRun]) {
    fs.mkdirSync(d, { recursive: true, mode: 0o700 });
    fs.chmodSync(d, 0o700);
  }
  for (const f of ['jvm.options', 'log4j2.properties']) {
    const dst = path.join(p.esConfig, f);
    if (!fs.existsSync(dst)) fs.copyFileSync(path.join(p.esHome, 'config', f), dst);
  }
  fs.mkdirSync(path.join(p.esConfig, 'jvm.options.d'), { recursive: true });
  fs.writeFileSync(path.join(p.esConfig, 'jvm.options.d', 'filewarden-heap.options'), `-Xms${o.heap}\n-Xmx${o.heap}\n`);
  fs.writeFileSync(path.join(p.esConfig, 'elasticsearch.yml'), elasticsearchYml(p, o.httpPort, o.transportPort));
  for (const d of [p.esConfig, p.esData, p.esLogs, p.esTmp, p.esRun]) chownTree(d, o.runAs);
  fs.rmSync(p.esPid, { force: true });

  const started = Date.now();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    LANG: 'C.UTF-8',
    HOME: o.runAs ? p.esDir : process.env.HOME,
    ES_JAVA_HOME: o.jdk.home,
    ES_PATH_CONF: p.esConfig,
    ES_TMPDIR: p.esTmp,
  };
  // -d returns once the node has started (or failed); -s keeps the launcher's own output short.
  const res = await run(path.join(p.esHome, 'bin', 'elasticsearch'), ['-d', '-s', '-p', p.esPid], {
    env,
    cwd: p.esHome,
    uid: o.runAs?.uid,
    gid: o.runAs?.gid,
    timeoutMs: 180_000,
  });
  fs.writeFileSync(p.esLauncherLog, res.stdout + res.stderr);
  const serverLog = path.join(p.esLogs, 'filewarden-local.log');
  if (res.spawnError || res.code !== 0) {
    throw new StackError('FW_STACK_ES_START', `Elasticsearch did not start (launcher exit ${res.code ?? res.spawnError?.message})`, {
      details: [tail(res.stdout + res.stderr, 15), tailFile(serverLog, 15)].join('\n'),
      hint: `see ${p.esLauncherLog} and ${serverLog}`,
    });
  }
  const pid = readPidFile(p.esPid);
  if (!pid) {
    throw new StackError('FW_STACK_ES_START', `Elasticsearch wrote no pid file at ${p.esPid}`, { hint: `see ${serverLog}` });
  }
  const url = `http://${LOOPBACK}:${o.httpPort}`;
  const { Client } = await import('@elastic/elasticsearch');
  const client = new Client({ node: url, requestTimeout: 70_000 });
  try {
    const health = await client.cluster.health({ wait_for_status: 'green', timeout: '60s' });
    if (health.status !== 'green') {
      throw new StackError('FW_STACK_ES_START', `Elasticsearch health is ${health.status} after 60 s, not green`, {
        details: JSON.stringify(health),
        hint: `see ${serverLog}`,
      });
    }
    const info = await client.info();
    return {
      state: {
        pid,
        httpPort: o.httpPort,
        transportPort: o.transportPort,
        host: LOOPBACK,
        home: p.esHome,
        version: info.version.number,
        startedAt: new Date(started).toISOString(),
      },
      secondsToGreen: (Date.now() - started) / 1000,
    };
  } catch (err) {
    if (err instanceof StackError) throw err;
    throw new StackError('FW_STACK_ES_START', `Elasticsearch at ${url} is not healthy: ${(err as Error).message}`, {
      details: tailFile(serverLog, 15),
      hint: `see ${serverLog}`,
    });
  } finally {
    await client.close();
  }
}

export async function stopElasticsearch(s: ElasticsearchState): Promise<string> {
  if (!elasticsearchRunning(s)) return `elasticsearch: pid ${s.pid} is not running (nothing to stop)`;
  const how = await stopPid(s.pid, 60_000);
  return `elasticsearch: pid ${s.pid} ${how}`;
}
