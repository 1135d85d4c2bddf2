// `filewarden stack up | status | down`: the embedded Redis and Elasticsearch used by the tests
// and as the default pipeline backend, both closed to other local users (Redis ACL + nftables).
// The client is loaded when first used: the collector process, which never needs it, stays lean.
import fs from 'node:fs';
import path from 'node:path';
import {
  ES_DEFAULT_HTTP_PORT,
  ES_DEFAULT_TRANSPORT_PORT,
  checkDataVersion,
  elasticsearchRunning,
  ensureDistribution,
  ensureModule,
  ensureRunAs,
  esNodes,
  nodeRunning,
  startNode,
  stopElasticsearch,
  waitGreen,
  type ClusterConfig,
  type Log,
} from './elasticsearch';
import { StackError } from './errors';
import { firewallLoaded, firewallTable, installFirewall, removeFirewall, type FirewallState } from './firewall';
import { findJdk } from './java';
import { withStateLock } from './lock';
import { ELASTICSEARCH_VERSION, ELASTICSEARCH_VERSIONS, esNodePaths, stackPaths, type ElasticsearchVersion, type StackPaths } from './paths';
import { LOOPBACK, choosePort } from './ports';
import { redactUrl } from './redact';
import { REDIS_DEFAULT_PORT, probeRedis, redisRunning, sentinelMaster, startRedis, stopRedis, type RedisMemberPaths } from './redis';
import { REDIS_USER, readSecretFile } from './redis-auth';
import {
  SENTINEL_COUNT,
  SENTINEL_QUORUM,
  lastSentinelMaster,
  memberRunning,
  replicaMember,
  replicationOf,
  sentinelMember,
  serverRole,
  startSentinel,
  stopSentinelSet,
  waitSentinelsReady,
} from './redis-sentinel';
import { elasticsearchUrl, readState, redisUrl, writeState, type ElasticsearchNodeState, type ElasticsearchState, type RedisMember, type RedisState, type StackState } from './state';

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
  /** JVM heap of each Elasticsearch node (-Xms and -Xmx). @defaultValue "1g", or "512m" per node of a cluster */
  esHeap?: string;
  /** A replica of the Redis and three Sentinels that fail over to it; clients get a redis-sentinel:// URL. @defaultValue false */
  redisSentinel?: boolean;
  /** One of ELASTICSEARCH_VERSIONS. @defaultValue ELASTICSEARCH_VERSION */
  esVersion?: string;
  /** Loopback nodes in one cluster (ports counting up from esPort and esTransportPort). @defaultValue 1 */
  esNodes?: number;
  log: Log;
}

export const ES_MAX_NODES = 5;

/** The version's facts, or a one-line refusal naming the supported versions. */
export function elasticsearchVersion(version: string): ElasticsearchVersion {
  const v = ELASTICSEARCH_VERSIONS[version];
  if (!v) {
    throw new StackError('FW_STACK_ES_VERSION', `Elasticsearch ${version} is not supported`, {
      hint: `choose one of ${Object.keys(ELASTICSEARCH_VERSIONS).join(', ')}`,
    });
  }
  return v;
}

/** `FILEWARDEN_STACK_FIREWALL=off` runs the stack without its firewall, loudly (for hosts without nftables). */
const firewallOff = (): boolean => process.env.FILEWARDEN_STACK_FIREWALL === 'off';

/** The loopback ports of the services recorded in `state`, plus `pending` (about to start). */
function stackPorts(state: StackState, pending: number[] = []): number[] {
  const ports = [...pending];
  if (state.redis) ports.push(state.redis.port, ...(state.redis.replica ? [state.redis.replica.port] : []), ...(state.redis.sentinels ?? []).map((m) => m.port));
  if (state.elasticsearch) for (const n of esNodes(state.elasticsearch)) ports.push(n.httpPort, n.transportPort);
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
    if (services.includes('redis')) await redisUp(o, p, state);
    if (services.includes('elasticsearch')) await elasticsearchUp(o, state);
  });
}

/** The port a server's redis.conf listens on (`port N`), if it has one. */
function confPort(file: string): number | undefined {
  try {
    const m = /^port (\d+)$/m.exec(fs.readFileSync(file, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether the Sentinels last named the second server master (after a failover): its data is then
 * newer than the first server's, and it must start as the master.
 */
function lastMasterIsReplica(p: StackPaths): boolean {
  const replicaPort = confPort(replicaMember(p).conf);
  const last = lastSentinelMaster(p);
  return replicaPort !== undefined && last?.port === replicaPort;
}

async function redisUp(o: StackUpOptions, p: StackPaths, state: StackState): Promise<void> {
  const cur = state.redis;
  const alive = cur && (redisRunning(cur) || (cur.replica && memberRunning(cur.replica)) || cur.sentinels?.some(memberRunning));
  if (cur && alive) {
    if (o.redisSentinel !== undefined && o.redisSentinel !== Boolean(cur.sentinels)) {
      throw new StackError('FW_STACK_REDIS_RUNNING', `Redis runs ${cur.sentinels ? 'with' : 'without'} a replica and Sentinels; it must be stopped before it can run ${cur.sentinels ? 'without' : 'with'} them`, {
        hint: 'filewarden stack down --services redis',
      });
    }
    await closePorts(p, state, [], undefined, o.log);
    if (!cur.sentinels) {
      o.log(`redis: already running, pid ${cur.pid}, ${redactUrl(redisUrl(cur))}`);
      if (!cur.passwordFile) o.log('redis: WARNING: started without a password by an older filewarden; run `filewarden stack down && filewarden stack up`');
      return;
    }
    await restartSentinelSet(o, p, state, cur);
    return;
  }
  // Nothing runs: start what was recorded (after a reboot), or what is asked for.
  const sentinel = o.redisSentinel ?? Boolean(cur?.sentinels);
  const choice = await choosePort('redis', o.redisPort ?? cur?.port ?? REDIS_DEFAULT_PORT, { explicit: o.redisPort !== undefined });
  if (choice.movedFrom) o.log(`redis: port ${choice.movedFrom} is taken; using ${choice.port}`);
  const swap = lastMasterIsReplica(p);
  if (!sentinel && swap) {
    throw new StackError('FW_STACK_REDIS_RUNNING', `the last master was the second server in ${replicaMember(p).dir} (after a failover): its data is newer than ${p.redisDir}'s`, {
      hint: 'start with --redis-sentinel to keep it, or move that directory away to start from the older data',
    });
  }
  const previous = cur;
  delete state.redis;
  if (!sentinel) {
    await closePorts(p, state, [choice.port], undefined, o.log);
    state.redis = await startRedis(p, choice.port);
    writeState(p.stateFile, state);
    o.log(`redis: started, pid ${state.redis.pid}, ${redactUrl(redisUrl(state.redis))} (AOF on, noeviction, ACL user ${state.redis.user}, password in ${state.redis.passwordFile})`);
    return;
  }
  const taken = [choice.port];
  const next = async (what: string, preferred: number | undefined, fallback: number): Promise<number> => {
    const c = await choosePort(what, preferred ?? fallback, { explicit: false, avoid: taken });
    taken.push(c.port);
    return c.port;
  };
  const replicaPort = await next('redis replica', o.redisPort === undefined ? previous?.replica?.port : undefined, choice.port + 1);
  const sentinelPorts: number[] = [];
  for (let i = 0; i < SENTINEL_COUNT; i++) sentinelPorts.push(await next(`redis sentinel ${i}`, o.redisPort === undefined ? previous?.sentinels?.[i]?.port : undefined, choice.port + 2 + i));
  await closePorts(p, state, taken, undefined, o.log);
  try {
    // The server whose data is newest starts as the master: after a failover, the second one.
    // Each member is recorded as soon as it runs, so a failure part-way leaves nothing unrecorded.
    if (swap) o.log('redis: the second server was the master when the Sentinels last ran: it starts as the master');
    const masterPort = swap ? replicaPort : choice.port;
    const startFirst = (replicaOf?: number): Promise<RedisState> => startRedis(p, choice.port, { replication: replicaOf !== undefined ? { replicaOf } : {} });
    const startSecond = async (replicaOf?: number): Promise<RedisMember> => {
      const r = await startRedis(p, replicaPort, { member: replicaMember(p), replication: replicaOf !== undefined ? { replicaOf } : {} });
      return { pid: r.pid, port: r.port };
    };
    if (swap) {
      const second = await startSecond();
      state.redis = { pid: 0, port: choice.port, host: LOOPBACK, startedAt: new Date().toISOString(), replica: second, sentinels: [] };
      writeState(p.stateFile, state);
      state.redis = { ...(await startFirst(replicaPort)), replica: second, sentinels: [] };
    } else {
      state.redis = { ...(await startFirst()), sentinels: [] };
      writeState(p.stateFile, state);
      state.redis.replica = await startSecond(choice.port);
    }
    writeState(p.stateFile, state);
    // Sentinel files from an earlier run name old peers and epochs: each Sentinel starts from nothing.
    for (let i = 0; i < SENTINEL_COUNT; i++) fs.rmSync(sentinelMember(p, i).dir, { recursive: true, force: true });
    for (let i = 0; i < SENTINEL_COUNT; i++) {
      state.redis.sentinels!.push(await startSentinel(p, i, sentinelPorts[i]!, masterPort));
      writeState(p.stateFile, state);
    }
    const url = redisUrl(state.redis);
    const master = await waitSentinelsReady(url, state.redis.sentinels!);
    o.log(
      `redis: started with a second server and ${SENTINEL_COUNT} Sentinels (quorum ${SENTINEL_QUORUM}): servers on ${choice.port} (pid ${state.redis.pid}) and ${replicaPort} (pid ${state.redis.replica!.pid}), master on ${master}; ` +
        `Sentinels on ${sentinelPorts.join(', ')}; ${redactUrl(url)} (AOF on, noeviction, ACL user ${REDIS_USER}, password in ${p.redisPasswordFile})`,
    );
  } catch (err) {
    // Nothing half-started stays behind: what did start is stopped, and the ports close again.
    if (state.redis) {
      for (const line of await stopSentinelSet(state.redis)) o.log(line);
      if (state.redis.pid > 0) o.log(await stopRedis(state.redis));
      delete state.redis;
      writeState(p.stateFile, state);
    }
    await reopenPorts(p, state, o.log);
    throw err;
  }
}

/**
 * A Sentinel set with members down. A dead server comes back as a replica of a live server that
 * says it is the master; only when no live server is the master does the server the Sentinels
 * name (else the one their files last named) start as the master, and the other as its replica.
 * A dead Sentinel starts again from its own file.
 */
async function restartSentinelSet(o: StackUpOptions, p: StackPaths, state: StackState, cur: RedisState): Promise<void> {
  if (cur.sentinels!.length !== SENTINEL_COUNT) {
    throw new StackError('FW_STACK_REDIS_RUNNING', `the Sentinel set has ${cur.sentinels!.length} of ${SENTINEL_COUNT} Sentinels recorded: it cannot fail over`, {
      hint: 'filewarden stack down --services redis && filewarden stack up --redis-sentinel',
    });
  }
  const url = redisUrl(cur);
  const password = readSecretFile(cur.passwordFile!);
  type Server = { label: string; member?: RedisMemberPaths; state: () => RedisMember; set: (m: RedisMember) => void };
  const servers: Server[] = [
    { label: 'server', state: () => cur, set: (m) => Object.assign(cur, m) },
    { label: 'second server', member: replicaMember(p), state: () => cur.replica!, set: (m) => (cur.replica = m) },
  ];
  const roles = await Promise.all(servers.map(async (s) => (memberRunning(s.state()) ? serverRole(s.state().port, password) : undefined)));
  let master = servers.find((_, i) => roles[i] === 'master')?.state().port;
  const named = master === undefined ? ((await sentinelMaster(url).catch(() => undefined))?.port ?? lastSentinelMaster(p)?.port) : undefined;
  const restarted: string[] = [];
  // Without a live master, the named server starts first, as the master.
  const order = [...servers].sort((a, b) => Number(b.state().port === named) - Number(a.state().port === named));
  for (const s of order) {
    const m = s.state();
    if (memberRunning(m)) continue;
    const replicaOf = master !== undefined && master !== m.port ? master : undefined;
    if (replicaOf === undefined && master === undefined && named !== undefined && named !== m.port) {
      throw new StackError('FW_STACK_REDIS_RUNNING', `no server is the master and the Sentinels name port ${named}, which is not running: ${s.label} on ${m.port} cannot start as a second master`, {
        hint: 'filewarden stack down --services redis && filewarden stack up --redis-sentinel (the server the Sentinels last named starts as the master)',
      });
    }
    const r = await startRedis(p, m.port, { ...(s.member ? { member: s.member } : {}), replication: replicaOf !== undefined ? { replicaOf } : {} });
    s.set({ pid: r.pid, port: r.port });
    writeState(p.stateFile, state);
    if (replicaOf === undefined) master = m.port;
    restarted.push(`${s.label} on ${m.port} (pid ${r.pid}${replicaOf !== undefined ? `, a replica of ${replicaOf}` : ', the master'})`);
  }
  for (const [i, m] of cur.sentinels!.entries()) {
    if (memberRunning(m)) continue;
    const sn = await startSentinel(p, i, m.port, master ?? cur.port);
    cur.sentinels![i] = sn;
    writeState(p.stateFile, state);
    restarted.push(`sentinel ${i} (pid ${sn.pid})`);
  }
  if (restarted.length === 0) {
    o.log(`redis: already running with a second server and ${cur.sentinels!.length} Sentinels, ${redactUrl(url)}`);
    return;
  }
  const ready = await waitSentinelsReady(url, cur.sentinels!);
  o.log(`redis: started again: ${restarted.join(', ')}; the master is on ${ready}`);
}

async function elasticsearchUp(o: StackUpOptions, state: StackState): Promise<void> {
  const cur = state.elasticsearch;
  const alive = cur ? esNodes(cur).filter((n) => nodeRunning(cur, n)) : [];
  if (cur && alive.length > 0) {
    // Some or all of the recorded nodes run: the stack is this one; restart the nodes that died.
    if (o.esVersion && o.esVersion !== cur.version) {
      throw new StackError('FW_STACK_ES_RUNNING', `Elasticsearch ${cur.version} is running; it must be stopped before ${o.esVersion} can start`, {
        hint: 'filewarden stack down --services elasticsearch',
      });
    }
    const count = esNodes(cur).length;
    if (o.esNodes !== undefined && o.esNodes !== count) {
      throw new StackError('FW_STACK_ES_RUNNING', `Elasticsearch runs as ${count} node(s); it must be stopped before it can run as ${o.esNodes}`, {
        hint: 'filewarden stack down --services elasticsearch',
      });
    }
    const p = stackPaths(o.stateDir, cur.version);
    // A node started by an older filewarden has no uid recorded: its process says who it runs as.
    cur.uid ??= fs.statSync(`/proc/${alive[0]!.pid}`).uid;
    await closePorts(p, state, [], undefined, o.log);
    const dead = esNodes(cur).filter((n) => !nodeRunning(cur, n));
    if (dead.length === 0) {
      o.log(`elasticsearch: already running, ${count > 1 ? `${count} nodes, ` : ''}pid ${cur.pid}, ${elasticsearchUrl(cur)}`);
      return;
    }
    const v = elasticsearchVersion(cur.version);
    const jdk = await findJdk(process.env, v.javaMajor);
    const runAs = await ensureRunAs(p.root);
    const all = esNodes(cur);
    const cluster: ClusterConfig | undefined = count > 1 ? { seedTransportPorts: all.map((n) => n.transportPort) } : undefined;
    const started = Date.now();
    for (const n of dead) {
      const i = all.indexOf(n);
      const np = esNodePaths(p, i, count);
      o.log(`elasticsearch: ${np.name} (pid ${n.pid}) is not running; starting it again`);
      n.pid = await startNode(p, np, v.version, { httpPort: n.httpPort, transportPort: n.transportPort, heap: o.esHeap ?? cur.heap ?? defaultHeap(count), jdk, runAs, cluster });
      if (i === 0) cur.pid = n.pid;
      writeState(p.stateFile, state);
    }
    const aliveNode = all.find((n) => !dead.includes(n)) ?? all[0]!;
    await waitGreen(`http://${cur.host}:${aliveNode.httpPort}`, count, p.esDir);
    o.log(`elasticsearch: ${dead.map((n) => n.name).join(', ')} started again, pid ${dead.map((n) => n.pid).join(', ')}; green with ${count} nodes in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return;
  }

  // Nothing runs: start what was recorded (after a reboot), or what is asked for.
  const v = elasticsearchVersion(o.esVersion ?? cur?.version ?? ELASTICSEARCH_VERSION);
  const count = o.esNodes ?? (cur ? esNodes(cur).length : 1);
  if (!Number.isInteger(count) || count < 1 || count > ES_MAX_NODES) {
    throw new StackError('FW_STACK_ES_NODES', `--es-nodes must be 1 to ${ES_MAX_NODES}, not ${count}`);
  }
  const p = stackPaths(o.stateDir, v.version);
  const nodePaths = Array.from({ length: count }, (_, i) => esNodePaths(p, i, count));
  for (const np of nodePaths) checkDataVersion(np, v.version, o.log);
  await ensureDistribution(p, v, o.log);
  const jdk = await findJdk(process.env, v.javaMajor);
  await ensureModule(p, v, jdk, o.log);
  const runAs = await ensureRunAs(p.root);
  const taken = state.redis ? [state.redis.port] : [];
  const nodes: ElasticsearchNodeState[] = [];
  for (let i = 0; i < count; i++) {
    const suffix = count > 1 ? ` (${nodePaths[i]!.name})` : '';
    const http = await choosePort(`elasticsearch http${suffix}`, (o.esPort ?? cur?.httpPort ?? ES_DEFAULT_HTTP_PORT) + i, { explicit: o.esPort !== undefined, avoid: taken });
    if (http.movedFrom) o.log(`elasticsearch${suffix}: http port ${http.movedFrom} is taken; using ${http.port}`);
    taken.push(http.port);
    const transport = await choosePort(`elasticsearch transport${suffix}`, (o.esTransportPort ?? cur?.transportPort ?? ES_DEFAULT_TRANSPORT_PORT) + i, {
      explicit: o.esTransportPort !== undefined,
      avoid: taken,
    });
    if (transport.movedFrom) o.log(`elasticsearch${suffix}: transport port ${transport.movedFrom} is taken; using ${transport.port}`);
    taken.push(transport.port);
    nodes.push({ name: nodePaths[i]!.name, pid: 0, httpPort: http.port, transportPort: transport.port });
  }
  delete state.elasticsearch;
  await closePorts(p, state, nodes.flatMap((n) => [n.httpPort, n.transportPort]), runAs?.uid, o.log);
  const heap = o.esHeap ?? defaultHeap(count);
  // The first start of a cluster names the nodes that vote in its first election; later starts must
  // not. A cluster counts as formed once it was green (the marker below), not when a node wrote data.
  const formed = path.join(p.esDir, `cluster-${count}-formed`);
  const fresh = !fs.existsSync(formed);
  const cluster: ClusterConfig | undefined =
    count > 1 ? { seedTransportPorts: nodes.map((n) => n.transportPort), ...(fresh ? { initialMasterNodes: nodes.map((n) => n.name) } : {}) } : undefined;
  o.log(`elasticsearch: starting ${v.version}${count > 1 ? ` as ${count} nodes (heap ${heap} each)` : ''} from ${p.esHome} on Java ${jdk.major}${runAs ? ` as user ${runAs.user}` : ''}`);
  const started = Date.now();
  // The nodes start together: a cluster node waits for the others before its first election.
  const pids = await Promise.allSettled(
    nodes.map((n, i) => startNode(p, nodePaths[i]!, v.version, { httpPort: n.httpPort, transportPort: n.transportPort, heap, jdk, runAs, cluster })),
  );
  pids.forEach((r, i) => {
    if (r.status === 'fulfilled') nodes[i]!.pid = r.value;
  });
  const es: ElasticsearchState = {
    pid: nodes[0]!.pid,
    httpPort: nodes[0]!.httpPort,
    transportPort: nodes[0]!.transportPort,
    host: LOOPBACK,
    home: p.esHome,
    version: v.version,
    startedAt: new Date(started).toISOString(),
    ...(runAs ? { uid: runAs.uid } : {}),
    ...(count > 1 ? { nodes, heap } : { heap }),
  };
  const failed = pids.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    // Nothing half-started stays behind: the nodes that did start are stopped.
    for (const line of await stopElasticsearch({ ...es, nodes: nodes.filter((n) => n.pid > 0) })) o.log(line);
    await reopenPorts(p, state, o.log);
    throw failed.reason;
  }
  state.elasticsearch = es;
  writeState(p.stateFile, state);
  const served = await waitGreen(elasticsearchUrl(es), count, nodePaths.map((np) => path.join(np.logs, 'filewarden-local.log')).join(', '));
  if (count > 1) fs.writeFileSync(formed, `${new Date().toISOString()} ${nodes.map((n) => n.name).join(' ')}\n`);
  if (served !== v.version) {
    throw new StackError('FW_STACK_ES_START', `Elasticsearch at ${elasticsearchUrl(es)} reports version ${served}, not ${v.version}`, { hint: `another server may hold port ${es.httpPort}` });
  }
  o.log(
    `elasticsearch: started, ${count > 1 ? `${count} nodes, pids ${nodes.map((n) => n.pid).join(', ')}, ports ${nodes.map((n) => n.httpPort).join(', ')}` : `pid ${es.pid}`}, ${elasticsearchUrl(es)}, version ${served}, green in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}

const defaultHeap = (nodes: number): string => (nodes > 1 ? '512m' : '1g');

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
  // With Sentinels, the service runs while either server does (the Sentinels name the master).
  const running = r?.sentinels ? redisRunning(r) || (r.replica !== undefined && memberRunning(r.replica)) : redisRunning(r);
  const redis: ServiceStatus = { service: 'redis', running, reachable: false, detail: '', warnings: [] };
  if (r) {
    redis.pid = r.pid;
    try {
      const url = redisUrl(r);
      redis.url = redactUrl(url);
      const d = await probeRedis(url);
      redis.reachable = true;
      redis.version = d.version;
      let ha = '';
      if (r.sentinels) {
        const master = await sentinelMaster(url);
        const rep = await replicationOf(url);
        ha = ` sentinel=master on ${master.port}, ${rep.connectedReplicas} replica(s) online, ${r.sentinels.filter(memberRunning).length}/${r.sentinels.length} Sentinels`;
        if (rep.connectedReplicas === 0) redis.warnings.push('no replica is online: a failover now would lose what only the master holds');
      }
      redis.detail = `appendonly=${d.aofEnabled ? 'yes' : 'no'} maxmemory-policy=${d.maxmemoryPolicy}${ha} auth=${r.passwordFile ? `user ${r.user}, password file ${r.passwordFile}` : 'NONE'} ${fw.detail.split(' ')[0]}`;
      redis.warnings.push(...d.warnings);
      if (!r.passwordFile) redis.warnings.push('no password: any local user can feed or drain the queue; run stack down && stack up');
    } catch (err) {
      redis.url ??= redactUrl(`redis://${r.host}:${r.port}`);
      redis.detail = `unreachable: ${(err as Error).message}`;
    }
    if (r.sentinels) {
      const members: [string, RedisMember | undefined][] = [['server', r], ['second server', r.replica], ...r.sentinels.map((x, i): [string, RedisMember] => [`sentinel ${i}`, x])];
      for (const [label, m] of members) {
        if (m && !memberRunning(m)) redis.warnings.push(`redis ${label} (pid ${m.pid}, port ${m.port}) is not running; \`filewarden stack up\` starts it again`);
      }
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
      const nodes = e.nodes ? ` nodes=${health.number_of_nodes}/${e.nodes.length}` : '';
      es.detail = `health=${health.status}${nodes} cluster=${info.cluster_name} lucene=${info.version.lucene_version} ${fw.detail}`;
      if (fw.warning) es.warnings.push(fw.warning);
    } catch (err) {
      es.detail = `unreachable: ${(err as Error).message}`;
    } finally {
      await client.close();
    }
    if (e.nodes) {
      for (const n of e.nodes) {
        if (!nodeRunning(e, n)) es.warnings.push(`node ${n.name} (pid ${n.pid}, port ${n.httpPort}) is not running; \`filewarden stack up\` starts it again`);
      }
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
      if (state.elasticsearch) for (const line of await stopElasticsearch(state.elasticsearch)) log(line);
      else log('elasticsearch: not started by this stack');
      delete state.elasticsearch;
      writeState(p.stateFile, state);
    }
    if (services.includes('redis')) {
      if (state.redis) {
        // The Sentinels first: with them gone, stopping a server is not a failure to fail over from.
        for (const line of await stopSentinelSet(state.redis)) log(line);
        log(await stopRedis(state.redis));
      }
      else log('redis: not started by this stack');
      delete state.redis;
      writeState(p.stateFile, state);
    }
    // Only once the services are gone, so their ports are never open while they listen.
    await reopenPorts(p, state, log);
  });
}
