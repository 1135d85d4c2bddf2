// Where the local stack keeps its state: one directory holding both services' data, logs,
// pid files and the stack.json that tells other commands where the services listen.
import os from 'node:os';
import path from 'node:path';

/** Pinned Elasticsearch version: the REST module is compiled against exactly this server. */
export const ELASTICSEARCH_VERSION = '8.19.21';

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
  esHome: string;
  esConfig: string;
  esData: string;
  esLogs: string;
  esTmp: string;
  esRun: string;
  esPid: string;
  esLauncherLog: string;
}

export function stackPaths(root: string): StackPaths {
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
    esHome: path.join(esDist, `elasticsearch-${ELASTICSEARCH_VERSION}`),
    esConfig: path.join(esDir, 'config'),
    esData: path.join(esDir, 'data'),
    esLogs: path.join(esDir, 'logs'),
    esTmp: path.join(esDir, 'tmp'),
    esRun: path.join(esDir, 'run'),
    esPid: path.join(esDir, 'run', 'elasticsearch.pid'),
    esLauncherLog: path.join(esDir, 'logs', 'launcher.log'),
  };
}
