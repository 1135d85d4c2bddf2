// Where the local stack keeps its state: one directory holding both services' data, logs,
// pid files and the stack.json that tells other commands where the services listen.
import os from 'node:os';
import path from 'node:path';

/** The default Elasticsearch version: the REST module is compiled against exactly the server it runs in. */
export const ELASTICSEARCH_VERSION = '8.19.21';

export interface ElasticsearchVersion {
  version: string;
  /** The oldest Java the server runs on; the REST module is compiled for it. */
  javaMajor: number;
  /** stack/elasticsearch-module/<dir>: the plugin class, whose REST API changed in 9.0. */
  moduleSource: 'es8' | 'es9';
  /**
   * SHA-512 of the integ-test zip, checked after every download. Maven Central serves checksums for
   * 8.19.21 (Maven checks them too); for the 9.x zips it served none here, so this pin, taken from the
   * first download, is what proves a later download is the same file.
   */
  sha512: string;
  mavenChecksums: boolean;
}

/** The versions `stack up --es-version` runs; CI runs the suites against each. */
export const ELASTICSEARCH_VERSIONS: Readonly<Record<string, ElasticsearchVersion>> = {
  '8.19.21': {
    version: '8.19.21',
    javaMajor: 17,
    moduleSource: 'es8',
    sha512: 'cf6b0a93860d329937ae7f913ec5073b0c726c77639764b93fc83a304aa1dd9d4defcfa2849948eea3b0b47c2065f994908603939fc2a4774c9c4d868c5ec1dd',
    mavenChecksums: true,
  },
  '9.5.4': {
    version: '9.5.4',
    javaMajor: 21,
    moduleSource: 'es9',
    sha512: 'a75df614854ace52dd0bce977662b3792873ac077ec0af9026cd0b2a0eb119e449910f8eb8ed577d1a83c51c6ee6af71bf5004c3cf5b418c979186de8b5dd9e6',
    mavenChecksums: false,
  },
};

/**
 * The state directory. `FILEWARDEN_STATE_DIR` wins; root uses /var/lib/filewarden (the
 * unprivileged Elasticsearch user must be able to reach it, which rules out /root); other users
 * use $XDG_STATE_HOME/filewarden.
 */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FILEWARDEN_STATE_DIR) return path.resolve(env.FILEWARDEN_STATE_DIR);
  if (process.getuid?.() === 0) return '/var/lib/filewarden';
  const xdg = env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state');
  return path.join(xdg, 'filewarden');
}

/**
 * The user's own state directory while a run of the tests or benchmarks points FILEWARDEN_STATE_DIR
 * at a stack of its own: FILEWARDEN_USER_STATE_DIR (scripts/own-stack.sh sets it to what
 * `filewarden` would have used), or the default without FILEWARDEN_STATE_DIR.
 */
export function userStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.FILEWARDEN_USER_STATE_DIR || defaultStateDir({ ...env, FILEWARDEN_STATE_DIR: undefined }));
}

/**
 * The state directory of a stack of one's own (the tests', the benchmarks'): FILEWARDEN_STATE_DIR,
 * set by scripts/test.sh and scripts/bench.sh, and never the user's (FILEWARDEN_USER_STATE_DIR, or
 * the default without FILEWARDEN_STATE_DIR). Throws otherwise, saying how to run.
 */
export function ownStateDir(who: string, how: string, env: NodeJS.ProcessEnv = process.env): string {
  const user = userStateDir(env);
  const dir = env.FILEWARDEN_STATE_DIR ? path.resolve(env.FILEWARDEN_STATE_DIR) : undefined;
  if (!dir || dir === user) throw new Error(`${who} run against a stack of their own, never ${user}: ${how}, which sets FILEWARDEN_STATE_DIR`);
  return dir;
}

export interface StackPaths {
  root: string;
  stateFile: string;
  redisDir: string;
  redisConf: string;
  redisPid: string;
  redisLog: string;
  /** The ACL user's password, 0600 in the 0700 Redis directory. */
  redisPasswordFile: string;
  esDir: string;
  esDownloads: string;
  esDist: string;
  /** The unpacked distribution of the version asked for. */
  esHome: string;
  /** Node 0 of a one-node stack; esNodePaths gives each node of a cluster its own. */
  esConfig: string;
  esData: string;
  esLogs: string;
  esTmp: string;
  esRun: string;
  esPid: string;
  esLauncherLog: string;
}

export function stackPaths(root: string, esVersion: string = ELASTICSEARCH_VERSION): StackPaths {
  const esDir = path.join(root, 'elasticsearch');
  const esDist = path.join(esDir, 'dist');
  return {
    root,
    stateFile: path.join(root, 'stack.json'),
    redisDir: path.join(root, 'redis'),
    redisConf: path.join(root, 'redis', 'redis.conf'),
    redisPid: path.join(root, 'redis', 'redis.pid'),
    redisLog: path.join(root, 'redis', 'redis.log'),
    redisPasswordFile: path.join(root, 'redis', 'password'),
    esDir,
    esDownloads: path.join(esDir, 'downloads'),
    esDist,
    esHome: path.join(esDist, `elasticsearch-${esVersion}`),
    esConfig: path.join(esDir, 'config'),
    esData: path.join(esDir, 'data'),
    esLogs: path.join(esDir, 'logs'),
    esTmp: path.join(esDir, 'tmp'),
    esRun: path.join(esDir, 'run'),
    esPid: path.join(esDir, 'run', 'elasticsearch.pid'),
    esLauncherLog: path.join(esDir, 'logs', 'launcher.log'),
  };
}

/** One node's own directories. */
export interface EsNodePaths {
  name: string;
  config: string;
  data: string;
  logs: string;
  tmp: string;
  run: string;
  pid: string;
  launcherLog: string;
}

/**
 * Node `index` of a stack of `nodes` nodes. A one-node stack keeps the layout it always had; each
 * node of a cluster has its own tree under elasticsearch/node-<i>, so a cluster never starts on a
 * single node's data (or the other way round).
 */
export function esNodePaths(p: StackPaths, index: number, nodes: number): EsNodePaths {
  if (nodes === 1) {
    return { name: 'filewarden-local-0', config: p.esConfig, data: p.esData, logs: p.esLogs, tmp: p.esTmp, run: p.esRun, pid: p.esPid, launcherLog: p.esLauncherLog };
  }
  const dir = path.join(p.esDir, `node-${index}`);
  return {
    name: `filewarden-local-${index}`,
    config: path.join(dir, 'config'),
    data: path.join(dir, 'data'),
    logs: path.join(dir, 'logs'),
    tmp: path.join(dir, 'tmp'),
    run: path.join(dir, 'run'),
    pid: path.join(dir, 'run', 'elasticsearch.pid'),
    launcherLog: path.join(dir, 'logs', 'launcher.log'),
  };
}
