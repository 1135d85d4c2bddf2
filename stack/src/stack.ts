// `filewarden stack up | status | down`: the embedded Redis and Elasticsearch used by the tests
// and as the default pipeline backend, both closed to other local users (Redis ACL + nftables).
// The client is loaded when first used: the collector process, which never needs it, stays lean.
import fs from 'node:fs';
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
import { firewallLoaded, firewallTable, installFirewall, removeFirewall, type FirewallState } from './firewall';
import { findJdk } from './java';
import { withStateLock } from './lock';
import { stackPaths, type StackPaths } from './paths';
import { choosePort } from './ports';
import { redactUrl } from './redact';
import { REDIS_DEFAULT_PORT, probeRedis, redisRunning, startRedis, stopRedis } from './redis';
import { elasticsearchUrl, readState, redisUrl, writeState, type StackState } from './state';

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

/** `FILEWARDEN_STACK_FIREWALL=off` runs the stack without its firewall, loudly (for hosts without nftables). */
const firewallOff = (): boolean => process.env.FILEWARDEN_STACK_FIREWALL === 'off';

/** The loopback ports of the services recorded in `state`, plus `pending` (about to start). */
function stackPorts(state: StackState, pending: number[] = []): number[] {
  const ports = [...pending];
  if (state.redis) ports.push(state.redis.port);
  if (state.elasticsearch) ports.push(state.elasticsearch.httpPort, state.elasticsearch.transportPort);
  return [...new Set(ports)].sort((a, b) => a - b);
}

/**
 * Closes the stack's ports (and `pending`, before a service starts on them, so there is never an
 * open moment) to every local user but root, whoever runs the stack, and the Elasticsearch user.
 */
async function closePorts(p: StackPaths, state: StackState, pending: number[], esUid: number | undefined, log: Log): Promise<void> {
  const ports = stackPorts(state, pending);
  if (firewallOff()) {
    log(`firewall: WARNING: FILEWARDEN_STACK_FIREWALL=off: ports ${ports.join(',')} are open to every local user (Elasticsearch has no authentication)`);
    return;
  }
  const uids = [0, process.getuid?.() ?? 0, ...(esUid !== undefined ? [esUid] : []), ...(state.elasticsearch?.uid !== undefined ? [state.elasticsearch.uid] : [])];
  const f: FirewallState = { table: firewallTable(p.root), ports, uids: [...new Set(uids)].sort((a, b) => a - b) };
  const before = JSON.stringify(state.firewall);
  await installFirewall(f, p.root);
  state.firewall = f;
  writeState(p.stateFile, state);
  if (JSON.stringify(f) !== before) log(`firewall: nft table inet ${f.table}: ports ${f.ports.join(',')} only for uids ${f.uids.join(',')}`);
}

/** After a service stops: the table shrinks to what still runs, and goes when nothing does. */
async function reopenPorts(p: StackPaths, state: StackState, log: Log): Promise<void> {
  if (!state.firewall) return;
  const ports = stackPorts(state);
  if (ports.length > 0) {
    await closePorts(p, state, [], undefined, log);
    return;
  }
  log(await removeFirewall(state.firewall.table));
  delete state.firewall;
  writeState(p.stateFile, state);
}

export async function stackUp(o: StackUpOptions): Promise<void> {
  const services = o.services ?? ALL_SERVICES;
  const p = stackPaths(o.stateDir);
  await withStateLock(p.root, async () => {
    const state = readState(p.stateFile);
    if (services.includes('redis')) {
      if (redisRunning(state.redis)) {
        await closePorts(p, state, [], undefined, o.log);
        o.log(`redis: already running, pid ${state.redis!.pid}, ${redactUrl(redisUrl(state.redis!))}`);
        if (!state.redis!.passwordFile) o.log('redis: WARNING: started without a password by an older filewarden; run `filewarden stack down && filewarden stack up`');
      } else {
        const choice = await choosePort('redis', o.redisPort ?? state.redis?.port ?? REDIS_DEFAULT_PORT, { explicit: o.redisPort !== undefined });
        if (choice.movedFrom) o.log(`redis: port ${choice.movedFrom} is taken; using ${choice.port}`);
        delete state.redis;
        await closePorts(p, state, [choice.port], undefined, o.log);
        state.redis = await startRedis(p, choice.port);
        writeState(p.stateFile, state);
        o.log(`redis: started, pid ${state.redis.pid}, ${redactUrl(redisUrl(state.redis))} (AOF on, noeviction, ACL user ${state.redis.user}, password in ${state.redis.passwordFile})`);
      }
    }
    if (services.includes('elasticsearch')) {
      if (elasticsearchRunning(state.elasticsearch)) {
        // A node started by an older filewarden has no uid recorded: its process says who it runs as.
        state.elasticsearch!.uid ??= fs.statSync(`/proc/${state.elasticsearch!.pid}`).uid;
        await closePorts(p, state, [], undefined, o.log);
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
        delete state.elasticsearch;
        await closePorts(p, state, [http.port, transport.port], runAs?.uid, o.log);
        o.log(`elasticsearch: starting ${p.esHome} on Java ${jdk.major}${runAs ? ` as user ${runAs.user}` : ''}`);
        const { state: es, secondsToGreen } = await startElasticsearch(p, {
          httpPort: http.port,
          transportPort: transport.port,
          heap: o.esHeap ?? '1g',
          jdk,
          runAs,
        });
        state.elasticsearch = { ...es, ...(runAs ? { uid: runAs.uid } : {}) };
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
  /** With any password masked (redactUrl): status output may be shared. */
  url?: string;
  /** Answered a request just now. */
  reachable: boolean;
  version?: string;
  /** One short line of service-specific facts (health, persistence, access control). */
  detail: string;
  warnings: string[];
}

/** The firewall as status reports it: one detail word, plus a warning when ports are open. */
async function firewallStatus(state: StackState): Promise<{ detail: string; warning?: string }> {
  const f = state.firewall;
  if (!f) {
    return stackPorts(state).length === 0
      ? { detail: 'firewall=none' }
      : { detail: 'firewall=off', warning: `no firewall: ports ${stackPorts(state).join(',')} are open to every local user (run stack down && stack up as root)` };
  }
  const loaded = await firewallLoaded(f.table);
  const what = `nft table inet ${f.table}, ports ${f.ports.join(',')} only for uids ${f.uids.join(',')}`;
  if (loaded === true) return { detail: `firewall=on (${what})` };
  if (loaded === false) return { detail: 'firewall=MISSING', warning: `the firewall (${what}) is not loaded: every local user can reach these ports; run stack up again` };
  return { detail: `firewall=unknown (${what}; nft needs root to list it)` };
}

export async function stackStatus(stateDir: string): Promise<ServiceStatus[]> {
  const state = readState(stackPaths(stateDir).stateFile);
  const out: ServiceStatus[] = [];
  const fw = await firewallStatus(state);

  const r = state.redis;
  const redis: ServiceStatus = { service: 'redis', running: redisRunning(r), reachable: false, detail: '', warnings: [] };
  if (r) {
    redis.pid = r.pid;
    try {
      const url = redisUrl(r);
      redis.url = redactUrl(url);
      const d = await probeRedis(url);
      redis.reachable = true;
      redis.version = d.version;
      redis.detail = `appendonly=${d.aofEnabled ? 'yes' : 'no'} maxmemory-policy=${d.maxmemoryPolicy} auth=${r.passwordFile ? `user ${r.user}, password file ${r.passwordFile}` : 'NONE'} ${fw.detail.split(' ')[0]}`;
      redis.warnings = d.warnings;
      if (!r.passwordFile) redis.warnings.push('no password: any local user can feed or drain the queue; run stack down && stack up');
    } catch (err) {
      redis.url ??= redactUrl(`redis://${r.host}:${r.port}`);
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
      es.detail = `health=${health.status} cluster=${info.cluster_name} lucene=${info.version.lucene_version} ${fw.detail}`;
      if (fw.warning) es.warnings.push(fw.warning);
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
    // Only once the services are gone, so their ports are never open while they listen.
    await reopenPorts(p, state, log);
  });
}
