// The index templates: a strict mapping for the daily event indices (a field nobody mapped is a
// bug to see, not a field to guess) and a permissive one for the dead-letter index.
import type { Client, estypes } from '@elastic/elasticsearch';

const kw = { type: 'keyword' } as const;
const long = { type: 'long' } as const;
const bool = { type: 'boolean' } as const;
/** Kept in _source as evidence, neither searchable nor aggregatable. */
const stored = { type: 'keyword', index: false, doc_values: false } as const;
/** The indexer's verdict on the source (indexer/src/integrity/source-trust.ts): outside the signed digest. */
const trust = { properties: { status: kw, reason: kw } } as const;

/** How a name was obtained: the fields filewarden.path and filewarden.second_path share. */
const NAME_FACTS = {
  encoding: kw,
  raw_b64: stored,
  as_passed: kw,
  as_passed_raw_b64: stored,
  resolution: kw,
  lexical: bool,
  truncated: bool,
  unreadable: bool,
} as const;

export const EVENT_MAPPING = {
  dynamic: 'strict',
  properties: {
    '@timestamp': { type: 'date_nanos' },
    event: {
      properties: { kind: kw, category: kw, type: kw, action: kw, outcome: kw, sequence: long, id: kw },
    },
    file: {
      properties: {
        // Paths are at most PATH_MAX bytes (16 KiB escaped): under Lucene's 32 KiB term limit.
        path: { type: 'keyword', fields: { text: { type: 'text' } } },
        name: kw,
        directory: kw,
        extension: kw,
        inode: kw,
        device: kw,
        // link: the existing file; symlink: the target as stored (up to PATH_MAX bytes, like path).
        target_path: kw,
      },
    },
    process: {
      properties: {
        pid: long,
        name: kw,
        executable: kw,
        // One argument may be up to 128 KiB; longer than this stays in _source, unindexed.
        args: { type: 'keyword', ignore_above: 8191 },
        args_count: long,
        thread: { properties: { id: long } },
        parent: { properties: { pid: long } },
      },
    },
    user: { properties: { id: kw, name: kw, effective: { properties: { id: kw, name: kw } } } },
    group: { properties: { id: kw, name: kw } },
    host: { properties: { name: kw, id: kw, boot: { properties: { id: kw } } } },
    container: { properties: { id: kw } },
    error: { properties: { code: kw } },
    filewarden: {
      properties: {
        hook: kw,
        syscall: kw,
        operation: kw,
        action: kw,
        enforcement: { properties: { by: kw, requested: kw, caveat: kw } },
        ret: long,
        open_flags: { properties: { value: long, names: kw } },
        mode: kw,
        access: { properties: { read: bool, write: bool, create: bool, truncate: bool } },
        f_mode: { properties: { read: bool, write: bool } },
        dirfd: { type: 'integer' },
        dirfd2: { type: 'integer' },
        change: {
          properties: {
            flags: { properties: { value: long, names: kw } },
            special: kw,
            old_mode: kw,
            uid: kw,
            gid: kw,
            old_uid: kw,
            old_gid: kw,
            length: long,
            bytes_written: long,
            writes: long,
            node_type: kw,
            device: kw,
            xattr: kw,
            xattr_raw_b64: stored,
          },
        },
        original_path: kw,
        second_path: { properties: NAME_FACTS },
        path: {
          properties: {
            ...NAME_FACTS,
            tail_only: bool,
            original_length: long,
            host: kw,
            host_raw_b64: stored,
            host_status: kw,
          },
        },
        cgroup_id: kw,
        mntns_id: long,
        cpu: { type: 'integer' },
        boot_ns: long,
        process_info: kw,
        process_start_ticks: long,
        seq: long,
        seq_stream: kw,
        boot_id: kw,
        trust,
      },
    },
  },
} as const;

export const DEADLETTER_MAPPING = {
  dynamic: false,
  properties: {
    '@timestamp': { type: 'date' },
    target_index: kw,
    error: { properties: { status: { type: 'integer' }, type: kw, reason: { type: 'text' } } },
    event: { properties: { id: kw } },
    filewarden: { properties: { seq: long, seq_stream: kw, boot_id: kw } },
    // What was refused, exactly as it came: raw.line and raw.document (one document), or raw.job_json (a job).
    raw: { type: 'object', enabled: false },
  },
} as const;

/**
 * One document per (boot, stream): the highest sequence number the collector gave out; and one per
 * collector heartbeat, with that run's loss counters (the compliance report's completeness facts).
 */
export const CHECKPOINT_MAPPING = {
  dynamic: 'strict',
  properties: {
    '@timestamp': { type: 'date' },
    host: { properties: { name: kw } },
    filewarden: {
      properties: {
        boot_id: kw,
        seq_stream: kw,
        seq_assigned: long,
        // What an unverifiable checkpoint claimed: kept as evidence, never read as a stream's number.
        claimed_seq_assigned: long,
        heartbeat: { properties: { run: kw, interval_ms: long, kernel_dropped: long, args_lost: long, spool_dropped: long } },
        trust,
      },
    },
  },
} as const;

const date = { type: 'date' } as const;

/** Alerts: what matched, which events, and what enforcement did. */
export const ALERT_MAPPING = {
  dynamic: 'strict',
  properties: {
    '@timestamp': { type: 'date_nanos' },
    event: { properties: { kind: kw, id: kw, created: date, severity: long, category: kw, dataset: kw } },
    rule: { properties: { id: kw, name: kw, description: { type: 'text' }, ruleset: kw } },
    tags: kw,
    host: EVENT_MAPPING.properties.host,
    process: { properties: { pid: long, name: kw, executable: kw } },
    user: { properties: { id: kw, name: kw } },
    file: { properties: { path: kw } },
    container: EVENT_MAPPING.properties.container,
    filewarden: {
      properties: {
        alert: {
          properties: {
            severity: kw,
            action: kw,
            event_ids: kw,
            event_count: long,
            threshold: { properties: { count: long, window_ms: long, group: kw } },
          },
        },
        enforcement: { properties: { action: kw, scope: kw, status: kw, command_id: kw, reason: kw, kernel_action: kw } },
        boot_id: kw,
        seq: long,
        trust,
      },
    },
  },
} as const;

/** The audit trail: every enforcement command issued, applied or refused. */
export const AUDIT_MAPPING = {
  dynamic: 'strict',
  properties: {
    '@timestamp': date,
    event: { properties: { kind: kw, id: kw, category: kw, action: kw, outcome: kw, reason: kw } },
    message: { type: 'text' },
    host: EVENT_MAPPING.properties.host,
    filewarden: {
      properties: {
        // A batch's signed hash-chain link (contract/src/chain.ts); v says which text its digests are over.
        chain: {
          properties: {
            v: { type: 'short' },
            boot_id: kw,
            seq_stream: kw,
            first: long,
            last: long,
            t0: date,
            t1: date,
            prev: kw,
            head: kw,
            key: kw,
            alg: kw,
            digests: { type: 'binary' },
            times: { type: 'long', index: false, doc_values: false },
            pub: stored,
            sig: { type: 'binary' },
          },
        },
        // A retention run's evidence (indexer/src/retention).
        retention: {
          properties: {
            run_id: kw,
            as_of: date,
            dry_run: bool,
            policy: { type: 'object', enabled: false },
            classes: { properties: { class: kw, days: long, cutoff: date, deleted: long, indices_deleted: kw, held: kw } },
            streams: { type: 'object', enabled: false },
            chains: { type: 'object', enabled: false },
          },
        },
        audit: {
          properties: {
            source: kw,
            decision: kw,
            reason: kw,
            detail: { type: 'text' },
            outcome: kw,
            command: { properties: { id: kw, type: kw, host: kw, nonce: kw, iat: date, exp: date, alert: kw, rule: kw } },
            target: { properties: { pid: long, start: long, paths: kw, comm: kw, executable: kw, entries: long } },
          },
        },
        // For the collectors' decisions (source collector): whether the record's signature verified.
        trust,
      },
    },
  },
} as const;

export interface TemplateOptions {
  indexPrefix: string;
  deadletterIndex: string;
  checkpointIndex: string;
  /** @defaultValue 'filewarden-alerts' */
  alertIndex?: string;
  /** @defaultValue 'filewarden-audit' */
  auditIndex?: string;
  /** @defaultValue '1s' */
  refreshInterval?: string;
}

/** Installs (or updates) the templates; needs the manage_index_templates cluster privilege. */
export async function installTemplates(es: Client, o: TemplateOptions): Promise<void> {
  // One replica where there is a second node to hold it, none on a single node (which stays green).
  const settings = { number_of_shards: 1, auto_expand_replicas: '0-1', refresh_interval: o.refreshInterval ?? '1s' };
  const templates: [string, string, object][] = [
    [o.indexPrefix, `${o.indexPrefix}-*`, EVENT_MAPPING],
    [o.deadletterIndex, o.deadletterIndex, DEADLETTER_MAPPING],
    [o.checkpointIndex, o.checkpointIndex, CHECKPOINT_MAPPING],
    [o.alertIndex ?? 'filewarden-alerts', o.alertIndex ?? 'filewarden-alerts', ALERT_MAPPING],
    [o.auditIndex ?? 'filewarden-audit', o.auditIndex ?? 'filewarden-audit', AUDIT_MAPPING],
  ];
  for (const [name, pattern, mappings] of templates) {
    await es.indices.putIndexTemplate({ name, index_patterns: [pattern], priority: 200, template: { settings, mappings }, _meta: { managed_by: 'filewarden' } });
    // A template shapes only indices created after it: add new fields to the existing ones too
    // (additions only), or a strict index from an earlier version refuses every new document.
    const { properties } = mappings as { properties: Record<string, estypes.MappingProperty> };
    await es.indices.putMapping({ index: pattern, properties, allow_no_indices: true, ignore_unavailable: true, expand_wildcards: 'open' });
  }
}
