// The index templates: a strict mapping for the daily event indices (a field nobody mapped is a
// bug to see, not a field to guess) and a permissive one for the dead-letter index.
import type { Client } from '@elastic/elasticsearch';

const kw = { type: 'keyword' } as const;
const long = { type: 'long' } as const;
const bool = { type: 'boolean' } as const;
/** Kept in _source as evidence, neither searchable nor aggregatable. */
const stored = { type: 'keyword', index: false, doc_values: false } as const;

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
        action: kw,
        enforcement: { properties: { by: kw, requested: kw, caveat: kw } },
        ret: long,
        open_flags: { properties: { value: long, names: kw } },
        mode: kw,
        access: { properties: { read: bool, write: bool, create: bool, truncate: bool } },
        f_mode: { properties: { read: bool, write: bool } },
        dirfd: { type: 'integer' },
        path: {
          properties: {
            encoding: kw,
            raw_b64: stored,
            as_passed: kw,
            as_passed_raw_b64: stored,
            resolution: kw,
            truncated: bool,
            tail_only: bool,
            original_length: long,
            unreadable: bool,
          },
        },
        cgroup_id: kw,
        mntns_id: long,
        cpu: { type: 'integer' },
        boot_ns: long,
        process_info: kw,
        seq: long,
        seq_stream: kw,
        boot_id: kw,
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
    // The raw wire event and the document that was refused, exactly as they were.
    raw: { type: 'object', enabled: false },
  },
} as const;

/** One document per (boot, stream): the highest sequence number the collector gave out. */
export const CHECKPOINT_MAPPING = {
  dynamic: 'strict',
  properties: {
    '@timestamp': { type: 'date' },
    host: { properties: { name: kw } },
    filewarden: { properties: { boot_id: kw, seq_stream: kw, seq_assigned: long } },
  },
} as const;

export interface TemplateOptions {
  indexPrefix: string;
  deadletterIndex: string;
  checkpointIndex: string;
  /** @defaultValue '1s' */
  refreshInterval?: string;
}

/** Installs (or updates) the three templates; needs the manage_index_templates cluster privilege. */
export async function installTemplates(es: Client, o: TemplateOptions): Promise<void> {
  // One replica where there is a second node to hold it, none on a single node (which stays green).
  const settings = { number_of_shards: 1, auto_expand_replicas: '0-1', refresh_interval: o.refreshInterval ?? '1s' };
  const templates: [string, string, object][] = [
    [o.indexPrefix, `${o.indexPrefix}-*`, EVENT_MAPPING],
    [o.deadletterIndex, o.deadletterIndex, DEADLETTER_MAPPING],
    [o.checkpointIndex, o.checkpointIndex, CHECKPOINT_MAPPING],
  ];
  for (const [name, pattern, mappings] of templates) {
    await es.indices.putIndexTemplate({ name, index_patterns: [pattern], priority: 200, template: { settings, mappings }, _meta: { managed_by: 'filewarden' } });
  }
}
