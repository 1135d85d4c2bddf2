// `filewarden stack up | status | down`: the embedded Redis and Elasticsearch used by the tests
// and as the default pipeline backend.
// The client is loaded when first used: the collector process, which never needs it, stays lean.
import {
  ES_DEFAULT_HTTP_PORT,
  ES_DEFAULT_TRANSPORT_PORT,
  elasticsearchRunning,
  ensureDistribution,
  ensureModule,
  ensureRunAs,
  startElasticsearch,
  stopElasticsearch,
  type Log,
} from './elasticsearch';
import { findJdk } from './java';
import { withStateLock } from './lock';
import { stackPaths } from './paths';
import { choosePort } from './ports';
import { REDIS_DEFAULT_PORT, probeRedis, redisRunning, startRedis, stopRedis } from './redis';
import { elasticsearchUrl, readState, redisUrl, writeState } from './state';

export type Service = 'redis' | 'elasticsearch';
export const ALL_SERVICES: readonly Service[] = ['redis', 'elasticsearch'];

export interface StackUpOptions {
  stateDir: string;
  /** @defaultValue both services */
  services?: readonly Service[];
  /** An explicit port must be free; without one the default moves to the next free port. @defaultValue 6380 */
  redisPort?: number;
  /** @defaultValue 9200 */
  esPort?: number;
  /** @defaultValue 9300 */
  esTransportPort?: number;
  /** JVM heap for Elasticsearch (-Xms and -Xmx). @defaultValue "1g" */
  esHeap?: string;
  log: Log;
}

export async function stackUp(o: StackUpOptions): Promise<void> {
  const services = o.services ?? ALL_SERVICES;
  const p = stackPaths(o.stateDir);
  await withStateLock(p.root, async () => {
    const state = readState(p.stateFile);
    if (services.includes('redis')) {
      if (redisRunning(state.redis)) {
        o.log(`redis: already running, pid ${state.redis!.pid}, ${redisUrl(state.redis!)}`);
      } else {
        const choice = await choosePort('redis', o.redisPort ?? state.redis?.port ?? REDIS_DEFAULT_PORT, { explicit: o.redisPort !== undefined });
        if (choice.movedFrom) o.log(`redis: port ${choice.movedFrom} is taken; using ${choice.port}`);
        state.redis = await startRedis(p, choice.port);
        writeState(p.stateFile, state);
        o.log(`redis: started, pid ${state.redis.pid}, ${redisUrl(state.redis)} (AOF on, noeviction)`);
      }
    }
    if (services.includes('elasticsearch')) {
      if (elasticsearchRunning(state.elasticsearch)) {
        o.log(`elasticsearch: already running, pid ${state.elasticsearch!.pid}, ${elasticsearchUrl(state.elasticsearch!)}`);
      } else {
        await ensureDistribution(p, o.log);
        const jdk = await findJdk();
        await ensureModule(p, jdk, o.log);
        const runAs = await ensureRunAs(p.root);
        const http = await choosePort('elasticsearch http', o.esPort ?? state.elasticsearch?.httpPort ?? ES_DEFAULT_HTTP_PORT, {
          explicit: o.esPort !== undefined,
          avoid: state.redis ? [state.redis.port] : [],
        });
        if (http.movedFrom) o.log(`elasticsearch: http port ${http.movedFrom} is taken; using ${http.port}`);
        const transport = await choosePort(
          'elasticsearch transport',
          o.esTransportPort ?? state.elasticsearch?.transportPort ?? ES_DEFAULT_TRANSPORT_PORT,
          { explicit: o.esTransportPort !== undefined, avoid: [http.port, ...(state.redis ? [state.redis.port] : [])] },
        );
        if (transport.movedFrom) o.log(`elasticsearch: transport port ${transport.movedFrom} is taken; using ${transport.port}`);
        o.log(`elasticsearch: starting ${p.esHome} on Java ${jdk.major}${runAs ? ` as user ${runAs.user}` : ''}`);
        const { state: es, secondsToGreen } = await startElasticsearch(p, {
          httpPort: http.port,
          transportPort: transport.port,
          heap: o.esHeap ?? '1g',
          jdk,
          runAs,
        });
        state.elasticsearch = es;
        writeState(p.stateFile, state);
        o.log(`elasticsearch: started, pid ${es.pid}, ${elasticsearchUrl(es)}, version ${es.version}, green in ${secondsToGreen.toFixed(1)} s`);
      }
    }
  });
}

export interface ServiceStatus {
  service: Service;
  /** Started by this stack and still alive (pid and command line match). */
  running: boolean;
  pid?: number;
  url?: string;
  /** Answered a request just now. */
  reachable: boolean;
  version?: string;
  /** One short line of service-specific facts (health, persistence). */
  detail: string;
  warnings: string[];
}

export async function stackStatus(stateDir: string): Promise<ServiceStatus[]> {
  const state = readState(stackPaths(stateDir).stateFile);
  const out: ServiceStatus[] = [];

  const r = state.redis;
  const redis: ServiceStatus = { service: 'redis', running: redisRunning(r), reachable: false, detail: '', warnings: [] };
  if (r) {
    redis.pid = r.pid;
    redis.url = redisUrl(r);
    try {
      const d = await probeRedis(redis.url);
      redis.reachable = true;
      redis.version = d.version;
      redis.detail = `appendonly=${d.aofEnabled ? 'yes' : 'no'} maxmemory-policy=${d.maxmemoryPolicy}`;
      redis.warnings = d.warnings;
    } catch (err) {
      redis.detail = `unreachable: ${(err as Error).message}`;
    }
  }
  out.push(redis);

  const e = state.elasticsearch;
  const es: ServiceStatus = { service: 'elasticsearch', running: elasticsearchRunning(e), reachable: false, detail: '', warnings: [] };
  if (e) {
    es.pid = e.pid;
    es.url = elasticsearchUrl(e);
    const { Client } = await import('@elastic/elasticsearch');
    const client = new Client({ node: es.url, requestTimeout: 5000, maxRetries: 0 });
    try {
      const info = await client.info();
      const health = await client.cluster.health();
      es.reachable = true;
      es.version = info.version.number;
      es.detail = `health=${health.status} cluster=${info.cluster_name} lucene=${info.version.lucene_version}`;
    } catch (err) {
      es.detail = `unreachable: ${(err as Error).message}`;
    } finally {
      await client.close();
    }
  }
  out.push(es);
  return out;
}

/** Stops, by pid, only what `stack up` started and recorded; never anything else. */
export async function stackDown(stateDir: string, services: readonly Service[], log: Log): Promise<void> {
  const p = stackPaths(stateDir);
  await withStateLock(p.root, async () => {
    const state = readState(p.stateFile);
    if (services.includes('elasticsearch')) {
      if (state.elasticsearch) log(await stopElasticsearch(state.elasticsearch));
      else log('elasticsearch: not started by this stack');
      delete state.elasticsearch;
      writeState(p.stateFile, state);
    }
    if (services.includes('redis')) {
      if (state.redis) log(await stopRedis(state.redis));
      else log('redis: not started by this stack');
      delete state.redis;
      writeState(p.stateFile, state);
    }
  });
}
