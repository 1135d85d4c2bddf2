// Kibana saved objects (data views, saved searches, Lens visualizations, dashboards), generated from
// the Elasticsearch index templates' mappings: every field an object names is looked up in the
// mapping here, so a renamed or removed field fails generation instead of breaking a dashboard.
import crypto from 'node:crypto';
import { ALERT_MAPPING, AUDIT_MAPPING, EVENT_MAPPING } from '../../indexer/src/ecs/index-templates';
import { INDEXER_DEFAULTS } from '../../indexer/src/worker/defaults';
import { OPERATIONS } from '../../contract/src/event-document';

// Every operation and every action it maps to get a bar: sized from the contract's table.
const OPERATION_COUNT = Object.keys(OPERATIONS).length;
const ACTION_COUNT = new Set(Object.values(OPERATIONS).map((o) => o.action)).size;

/** One saved object as the import API takes it (one NDJSON line). */
export interface SavedObject {
  type: 'index-pattern' | 'search' | 'lens' | 'dashboard';
  id: string;
  attributes: Record<string, unknown>;
  references: { name: string; type: string; id: string }[];
  coreMigrationVersion: string;
  typeMigrationVersion: string;
  managed: boolean;
}

/**
 * The oldest Kibana that imports these objects. Import refuses a typeMigrationVersion newer than the type's last
 * migration, and the Lens and dashboard objects are stamped 8.9.0 (Lens' last migration, and the dashboard schema
 * their attributes follow), so 8.8 refuses them: the claim is 8.9 and later, 9.x included, migrated up on import.
 */
export const MIN_KIBANA_VERSION = '8.9.0';
/** The core transforms' version (reference and id handling), which 8.9+ accepts as it does Kibana's own sample data. */
export const CORE_MIGRATION_VERSION = '8.8.0';
export const TYPE_MIGRATION_VERSION: Record<SavedObject['type'], string> = { 'index-pattern': '8.0.0', search: '8.0.0', lens: '8.9.0', dashboard: '8.9.0' };

interface Mapping {
  properties: Record<string, MappingField>;
}
interface MappingField {
  type?: string;
  properties?: Record<string, MappingField>;
  fields?: Record<string, MappingField>;
}

/** Every field of a mapping, dotted, with its type (multi-fields included, e.g. file.path.text). */
export function mappingFields(m: Mapping): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (props: Record<string, MappingField>, prefix: string): void => {
    for (const [k, f] of Object.entries(props)) {
      const name = prefix + k;
      if (f.properties) walk(f.properties, `${name}.`);
      else out.set(name, f.type ?? 'object');
      for (const [sub, sf] of Object.entries(f.fields ?? {})) out.set(`${name}.${sub}`, sf.type ?? 'object');
    }
  };
  walk(m.properties, '');
  return out;
}

export class FieldError extends Error {
  override readonly name = 'FieldError';
}

export interface DataViewSpec {
  key: 'events' | 'alerts' | 'audit';
  title: string;
  name: string;
  mapping: Mapping;
}

export interface Names {
  indexPrefix: string;
  alertIndex: string;
  auditIndex: string;
}

/** A stable id from a name, so a re-import overwrites instead of duplicating. */
const idOf = (name: string): string => {
  const h = crypto.createHash('sha256').update(`filewarden/${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
};

export function dataViews(n: Names): DataViewSpec[] {
  return [
    { key: 'events', title: `${n.indexPrefix}-*`, name: 'filewarden events', mapping: EVENT_MAPPING as unknown as Mapping },
    { key: 'alerts', title: n.alertIndex, name: 'filewarden alerts', mapping: ALERT_MAPPING as unknown as Mapping },
    { key: 'audit', title: n.auditIndex, name: 'filewarden audit trail', mapping: AUDIT_MAPPING as unknown as Mapping },
  ];
}

/** A saved search's definition: its KQL query and the fields it shows. */
export interface SearchSpec {
  slug: string;
  title: string;
  description: string;
  view: DataViewSpec['key'];
  kql: string;
  columns: string[];
}

export const SEARCHES: SearchSpec[] = [
  {
    slug: 'sensitive-file-reads',
    title: 'filewarden: sensitive file reads',
    description: 'Reads of password hashes, sudoers, SSH keys and TLS private keys.',
    view: 'events',
    kql: 'filewarden.access.read : true and (file.path : ("/etc/shadow" or "/etc/gshadow" or "/etc/sudoers") or file.path : /etc/sudoers.d/* or file.path : /root/.ssh/* or file.path : /home/*/.ssh/* or file.path : /etc/ssh/ssh_host_* or file.path : /etc/ssl/private/*)',
    columns: ['host.name', 'user.name', 'process.name', 'process.executable', 'file.path', 'event.outcome'],
  },
  {
    slug: 'denied-or-killed',
    title: 'filewarden: denied or killed processes',
    description: 'Opens the in-kernel policy refused (lsm) or answered with SIGKILL.',
    view: 'events',
    kql: 'filewarden.action : ("deny" or "kill")',
    columns: ['host.name', 'user.name', 'process.name', 'process.pid', 'file.path', 'filewarden.action', 'filewarden.enforcement.caveat'],
  },
  {
    slug: 'failed-opens',
    title: 'filewarden: failed opens',
    description: 'Opens that returned an error (permission denied, no such file, ...).',
    view: 'events',
    kql: 'event.outcome : "failure"',
    columns: ['host.name', 'user.name', 'process.name', 'file.path', 'error.code'],
  },
  {
    slug: 'writes-under-etc',
    title: 'filewarden: writes under /etc',
    description: 'Opens for writing, truncating or creating files under /etc.',
    view: 'events',
    kql: 'file.path : /etc/* and (filewarden.access.write : true or filewarden.access.truncate : true or filewarden.access.create : true)',
    columns: ['host.name', 'user.name', 'process.name', 'process.executable', 'file.path', 'filewarden.open_flags.names'],
  },
  {
    slug: 'file-deletions',
    title: 'filewarden: file deletions',
    description: 'Files removed (unlink) and directories removed (rmdir), failed attempts included.',
    view: 'events',
    kql: 'filewarden.operation : ("unlink" or "rmdir")',
    columns: ['host.name', 'user.name', 'process.name', 'filewarden.operation', 'file.path', 'event.outcome'],
  },
  {
    slug: 'file-renames',
    title: 'filewarden: file renames',
    description: 'Renames: the path before (filewarden.original_path) and after (file.path).',
    view: 'events',
    kql: 'filewarden.operation : "rename"',
    columns: ['host.name', 'user.name', 'process.name', 'filewarden.original_path', 'file.path', 'event.outcome'],
  },
  {
    slug: 'permission-owner-changes',
    title: 'filewarden: permission and owner changes',
    description: 'chmod, chown and extended-attribute changes: the new mode or owner, the old one when an fd named the file, and special bits set.',
    view: 'events',
    kql: 'filewarden.operation : ("chmod" or "chown" or "setxattr" or "removexattr")',
    columns: ['host.name', 'user.name', 'process.name', 'filewarden.operation', 'file.path', 'filewarden.change.old_mode', 'filewarden.mode', 'filewarden.change.special', 'filewarden.change.old_uid', 'filewarden.change.uid', 'filewarden.change.gid', 'filewarden.change.xattr'],
  },
  {
    slug: 'symlink-creations',
    title: 'filewarden: symlink creations',
    description: 'Symbolic links created, with their target as stored.',
    view: 'events',
    kql: 'filewarden.operation : "symlink"',
    columns: ['host.name', 'user.name', 'process.name', 'file.path', 'file.target_path', 'event.outcome'],
  },
  {
    slug: 'by-container',
    title: 'filewarden: file activity in containers',
    description: 'Every open made inside a container, with its container id.',
    view: 'events',
    kql: 'container.id : *',
    columns: ['container.id', 'host.name', 'process.name', 'file.path', 'event.outcome'],
  },
];

type Column = { label: string; dataType: string; operationType: string; isBucketed: boolean; scale: string; sourceField: string; params?: Record<string, unknown> };

/** A Lens chart: one layer, one x (date histogram or terms) and a count, optionally split. */
interface LensSpec {
  slug: string;
  title: string;
  view: DataViewSpec['key'];
  /** A date histogram on @timestamp, or the top values of a field. */
  x: { histogram: string } | { terms: string; size: number };
  split?: { terms: string; size: number };
  chart: 'bar_stacked' | 'bar_horizontal' | 'line';
}

const LENSES: LensSpec[] = [
  { slug: 'events-over-time', title: 'filewarden: events over time by outcome', view: 'events', x: { histogram: '@timestamp' }, split: { terms: 'event.outcome', size: 3 }, chart: 'bar_stacked' },
  { slug: 'top-processes', title: 'filewarden: top processes', view: 'events', x: { terms: 'process.name', size: 10 }, chart: 'bar_horizontal' },
  { slug: 'top-users', title: 'filewarden: top users', view: 'events', x: { terms: 'user.name', size: 10 }, chart: 'bar_horizontal' },
  { slug: 'operations-over-time', title: 'filewarden: file operations over time', view: 'events', x: { histogram: '@timestamp' }, split: { terms: 'event.action', size: ACTION_COUNT }, chart: 'bar_stacked' },
  { slug: 'operations', title: 'filewarden: events by operation', view: 'events', x: { terms: 'filewarden.operation', size: OPERATION_COUNT }, chart: 'bar_horizontal' },
  { slug: 'top-hosts', title: 'filewarden: events by host', view: 'events', x: { terms: 'host.name', size: 10 }, chart: 'bar_horizontal' },
  { slug: 'alerts-over-time', title: 'filewarden: alerts over time by severity', view: 'alerts', x: { histogram: '@timestamp' }, split: { terms: 'filewarden.alert.severity', size: 4 }, chart: 'bar_stacked' },
  { slug: 'alerts-by-rule', title: 'filewarden: alerts by rule', view: 'alerts', x: { terms: 'rule.id', size: 15 }, chart: 'bar_horizontal' },
  { slug: 'enforcement-status', title: 'filewarden: enforcement status of alerts', view: 'alerts', x: { terms: 'filewarden.enforcement.status', size: 6 }, chart: 'bar_horizontal' },
  { slug: 'commands-by-decision', title: 'filewarden: enforcement commands by decision', view: 'audit', x: { terms: 'filewarden.audit.decision', size: 5 }, split: { terms: 'filewarden.audit.reason', size: 10 }, chart: 'bar_horizontal' },
];

interface DashboardSpec {
  slug: string;
  title: string;
  description: string;
  /** Panels in order, two per row: lens or search slugs. */
  panels: { kind: 'lens' | 'search'; slug: string; wide?: boolean }[];
}

const DASHBOARDS: DashboardSpec[] = [
  {
    slug: 'overview',
    title: 'filewarden: overview',
    description: 'File activity on every audited host: volume, outcomes, top processes, users and hosts, and the sensitive reads.',
    panels: [
      { kind: 'lens', slug: 'events-over-time', wide: true },
      { kind: 'lens', slug: 'top-processes' },
      { kind: 'lens', slug: 'top-users' },
      { kind: 'lens', slug: 'top-hosts' },
      { kind: 'search', slug: 'failed-opens' },
      { kind: 'search', slug: 'sensitive-file-reads', wide: true },
      { kind: 'search', slug: 'writes-under-etc', wide: true },
    ],
  },
  {
    slug: 'operations',
    title: 'filewarden: file operations',
    description: 'Every file operation besides opens: deletions, renames, permission and owner changes, symlinks, over time and by operation.',
    panels: [
      { kind: 'lens', slug: 'operations-over-time', wide: true },
      { kind: 'lens', slug: 'operations', wide: true },
      { kind: 'search', slug: 'file-deletions', wide: true },
      { kind: 'search', slug: 'file-renames', wide: true },
      { kind: 'search', slug: 'permission-owner-changes', wide: true },
      { kind: 'search', slug: 'symlink-creations', wide: true },
    ],
  },
  {
    slug: 'alerts',
    title: 'filewarden: alerts and enforcement',
    description: 'Alerts by severity and rule, what enforcement did, and every command issued, applied or refused.',
    panels: [
      { kind: 'lens', slug: 'alerts-over-time', wide: true },
      { kind: 'lens', slug: 'alerts-by-rule' },
      { kind: 'lens', slug: 'enforcement-status' },
      { kind: 'lens', slug: 'commands-by-decision', wide: true },
      { kind: 'search', slug: 'denied-or-killed', wide: true },
    ],
  },
];

/** Every field a KQL query names: the words before each " : " or comparison. */
export function kqlFields(kql: string): string[] {
  const out = new Set<string>();
  for (const m of kql.matchAll(/([A-Za-z@_][\w.@]*)\s*(?::|<=|>=|<|>)/g)) out.add(m[1]!);
  return [...out];
}

/** All saved objects, in dependency order (data views first, dashboards last). */
export function savedObjects(n: Names = INDEXER_DEFAULTS): SavedObject[] {
  const views = dataViews(n);
  const fieldsOf = new Map(views.map((v) => [v.key, mappingFields(v.mapping)]));
  const field = (view: DataViewSpec['key'], name: string, where: string): string => {
    if (!fieldsOf.get(view)!.has(name)) throw new FieldError(`${where}: field ${name} is not in the ${view} index template`);
    return name;
  };
  const viewId = (k: DataViewSpec['key']): string => idOf(`data-view/${k}`);
  const obj = (type: SavedObject['type'], id: string, attributes: Record<string, unknown>, references: SavedObject['references'] = []): SavedObject => ({
    type,
    id,
    attributes,
    references,
    coreMigrationVersion: CORE_MIGRATION_VERSION,
    typeMigrationVersion: TYPE_MIGRATION_VERSION[type],
    managed: false,
  });
  const out: SavedObject[] = [];
  for (const v of views) {
    out.push(obj('index-pattern', viewId(v.key), { title: v.title, name: v.name, timeFieldName: field(v.key, '@timestamp', v.name), allowNoIndex: true }));
  }
  for (const s of SEARCHES) {
    for (const f of [...kqlFields(s.kql), ...s.columns]) field(s.view, f, s.title);
    out.push(
      obj(
        'search',
        idOf(`search/${s.slug}`),
        {
          title: s.title,
          description: s.description,
          columns: s.columns,
          sort: [['@timestamp', 'desc']],
          grid: {},
          hideChart: false,
          isTextBasedQuery: false,
          kibanaSavedObjectMeta: { searchSourceJSON: JSON.stringify({ query: { query: s.kql, language: 'kuery' }, filter: [], indexRefName: 'kibanaSavedObjectMeta.searchSourceJSON.index' }) },
        },
        [{ name: 'kibanaSavedObjectMeta.searchSourceJSON.index', type: 'index-pattern', id: viewId(s.view) }],
      ),
    );
  }
  for (const l of LENSES) out.push(lens(l, viewId(l.view), (f) => field(l.view, f, l.title)));
  for (const d of DASHBOARDS) {
    const refs: SavedObject['references'] = [];
    let x = 0;
    let y = 0;
    const panels = d.panels.map((p, i) => {
      const w = p.wide ? 48 : 24;
      if (x + w > 48) {
        x = 0;
        y += 15;
      }
      const grid = { x, y, w, h: 15, i: String(i + 1) };
      x += w;
      if (x >= 48) {
        x = 0;
        y += 15;
      }
      const ref = `panel_${i + 1}`;
      refs.push({ name: `${i + 1}:${ref}`, type: p.kind, id: idOf(`${p.kind}/${p.slug}`) });
      if (!(p.kind === 'lens' ? LENSES : SEARCHES).some((s) => s.slug === p.slug)) throw new FieldError(`${d.title}: no ${p.kind} ${p.slug}`);
      return { type: p.kind, gridData: grid, panelIndex: String(i + 1), embeddableConfig: { enhancements: {} }, panelRefName: ref };
    });
    out.push(
      obj(
        'dashboard',
        idOf(`dashboard/${d.slug}`),
        {
          title: d.title,
          description: d.description,
          panelsJSON: JSON.stringify(panels),
          optionsJSON: JSON.stringify({ useMargins: true, syncColors: false, syncCursor: true, syncTooltips: false, hidePanelTitles: false }),
          timeRestore: true,
          timeFrom: 'now-24h',
          timeTo: 'now',
          refreshInterval: { pause: false, value: 60_000 },
          version: 1,
          kibanaSavedObjectMeta: { searchSourceJSON: JSON.stringify({ query: { query: '', language: 'kuery' }, filter: [] }) },
        },
        refs,
      ),
    );
  }
  return out;
}

function lens(l: LensSpec, dataViewId: string, field: (f: string) => string): SavedObject {
  const columns: Record<string, Column> = {};
  const order: string[] = [];
  const xId = 'x';
  if ('histogram' in l.x) {
    columns[xId] = { label: field(l.x.histogram), dataType: 'date', operationType: 'date_histogram', isBucketed: true, scale: 'interval', sourceField: l.x.histogram, params: { interval: 'auto', includeEmptyRows: true, dropPartials: false } };
  } else {
    columns[xId] = { label: `Top ${l.x.size} ${field(l.x.terms)}`, dataType: 'string', operationType: 'terms', isBucketed: true, scale: 'ordinal', sourceField: l.x.terms, params: { size: l.x.size, orderBy: { type: 'column', columnId: 'count' }, orderDirection: 'desc', otherBucket: true, missingBucket: false } };
  }
  if (l.split) columns.split = { label: field(l.split.terms), dataType: 'string', operationType: 'terms', isBucketed: true, scale: 'ordinal', sourceField: l.split.terms, params: { size: l.split.size, orderBy: { type: 'column', columnId: 'count' }, orderDirection: 'desc', otherBucket: true, missingBucket: false } };
  columns.count = { label: 'Events', dataType: 'number', operationType: 'count', isBucketed: false, scale: 'ratio', sourceField: '___records___' };
  // The breakdown first: Lens nests the aggregations in column order, as its own exports do.
  order.push(...(l.split ? ['split', xId] : [xId]), 'count');
  const layerId = 'layer1';
  return {
    type: 'lens',
    id: idOf(`lens/${l.slug}`),
    attributes: {
      title: l.title,
      description: '',
      visualizationType: 'lnsXY',
      state: {
        datasourceStates: { formBased: { layers: { [layerId]: { columns, columnOrder: order, incompleteColumns: {} } } } },
        visualization: {
          preferredSeriesType: l.chart,
          legend: { isVisible: Boolean(l.split), position: 'right' },
          valueLabels: 'hide',
          layers: [{ layerId, layerType: 'data', seriesType: l.chart, xAccessor: xId, accessors: ['count'], ...(l.split ? { splitAccessor: 'split' } : {}) }],
        },
        query: { query: '', language: 'kuery' },
        filters: [],
      },
    },
    references: [{ type: 'index-pattern', id: dataViewId, name: `indexpattern-datasource-layer-${layerId}` }],
    coreMigrationVersion: CORE_MIGRATION_VERSION,
    typeMigrationVersion: TYPE_MIGRATION_VERSION.lens,
    managed: false,
  };
}

/** The NDJSON the import API takes: one object per line, then the export summary line Kibana writes. */
export function toNdjson(objects: SavedObject[]): string {
  return `${objects.map((o) => JSON.stringify(o)).join('\n')}\n${JSON.stringify({ excludedObjects: [], excludedObjectsCount: 0, exportedCount: objects.length, missingRefCount: 0, missingReferences: [] })}\n`;
}

export { idOf as savedObjectId };
