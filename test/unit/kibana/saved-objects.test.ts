// The saved objects are valid for Kibana's import API and cannot drift from the index templates:
// every field they name is in the template, ids are unique, every reference resolves, and the
// committed NDJSON is exactly what the generator makes from today's templates.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { dataViews, FieldError, kqlFields, mappingFields, MIN_KIBANA_VERSION, SEARCHES, savedObjectId, savedObjects, toNdjson, type SavedObject } from '../../../kibana/src/saved-objects';
import type { OperationName } from '../../../contract/src/event';
import { OPERATIONS } from '../../../contract/src/event-document';
import { INDEXER_DEFAULTS } from '../../../indexer/src/worker/defaults';
import { kqlToQuery } from '../../utils/kql';
import { repoRoot } from '../../utils/stack';

const objects = savedObjects(INDEXER_DEFAULTS);
const committed = path.join(repoRoot, 'kibana', 'filewarden.ndjson');

t.test('the committed NDJSON is what the generator makes from the current templates', async (t) => {
  t.equal(fs.readFileSync(committed, 'utf8'), toNdjson(objects), 'regenerate with: filewarden kibana export --out kibana/filewarden.ndjson');
});

/** Compares dotted versions numerically: -1, 0 or 1. */
const compareVersions = (a: string, b: string): number => {
  const [x, y] = [a.split('.').map(Number), b.split('.').map(Number)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) < (y[i] ?? 0) ? -1 : 1;
  return 0;
};

t.test('the objects claim the Kibana that imports them: 8.9+, since 8.8 refuses a Lens or dashboard stamped 8.9.0', async (t) => {
  const versions = Object.fromEntries(objects.map((o) => [o.type, `${o.coreMigrationVersion} ${o.typeMigrationVersion}`]));
  t.strictSame(versions, { 'index-pattern': '8.8.0 8.0.0', search: '8.8.0 8.0.0', lens: '8.8.0 8.9.0', dashboard: '8.8.0 8.9.0' });
  t.equal(MIN_KIBANA_VERSION, '8.9.0');
  for (const o of objects) {
    t.ok(compareVersions(o.typeMigrationVersion, MIN_KIBANA_VERSION) <= 0 && compareVersions(o.coreMigrationVersion, MIN_KIBANA_VERSION) <= 0, `${o.type} ${o.attributes.title as string} is no newer than Kibana ${MIN_KIBANA_VERSION}`);
  }
  const doc = fs.readFileSync(path.join(repoRoot, 'docs', 'kibana.md'), 'utf8');
  t.match(doc, /Kibana 8\.9 and later/, 'docs/kibana.md states the same minimum');
  t.notMatch(doc, /Kibana 8\.8 and later|for Kibana 8\.x and 9\.x/, 'and no older claim');
});

t.test('the NDJSON has the structure the import API takes', async (t) => {
  const lines = fs.readFileSync(committed, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const summary = lines.pop()!;
  t.same(summary, { excludedObjects: [], excludedObjectsCount: 0, exportedCount: lines.length, missingRefCount: 0, missingReferences: [] }, 'the export summary line last');
  const kinds = new Map<string, number>();
  for (const o of lines as unknown as SavedObject[]) {
    t.match(o, { type: /^(index-pattern|search|lens|dashboard)$/, id: /^[0-9a-f-]{36}$/, attributes: { title: String }, references: Array, coreMigrationVersion: '8.8.0', typeMigrationVersion: String }, `${o.type} ${o.attributes.title}`);
    kinds.set(o.type, (kinds.get(o.type) ?? 0) + 1);
  }
  t.strictSame(Object.fromEntries(kinds), { 'index-pattern': 3, search: 9, lens: 10, dashboard: 3 }, 'three data views, nine searches, ten Lens charts, three dashboards');
  const ids = lines.map((o) => `${o.type as string}/${o.id as string}`);
  t.equal(new Set(ids).size, ids.length, 'ids are unique');
  for (const o of lines as unknown as SavedObject[]) {
    for (const r of o.references) t.ok(ids.includes(`${r.type}/${r.id}`), `${o.attributes.title as string}: reference ${r.name} -> ${r.type} ${r.id} resolves`);
    if (o.type === 'dashboard') {
      const panels = JSON.parse(o.attributes.panelsJSON as string) as { panelRefName: string; panelIndex: string; type: string }[];
      for (const p of panels) t.ok(o.references.some((r) => r.name === `${p.panelIndex}:${p.panelRefName}` && r.type === p.type), `panel ${p.panelIndex} has its reference`);
    }
    if (o.type === 'search') {
      const src = JSON.parse((o.attributes.kibanaSavedObjectMeta as { searchSourceJSON: string }).searchSourceJSON) as { indexRefName: string; query: { language: string } };
      t.ok(o.references.some((r) => r.name === src.indexRefName && r.type === 'index-pattern'), 'the search source names its data view reference');
      t.equal(src.query.language, 'kuery');
    }
  }
  t.same(
    lines.filter((o) => o.type === 'index-pattern').map((o) => (o.attributes as { title: string }).title),
    ['filewarden-events-*', 'filewarden-alerts', 'filewarden-audit'],
    'data views for events, alerts and the audit trail',
  );
});

t.test('every field a saved object names is in its index template', async (t) => {
  const views = new Map(dataViews(INDEXER_DEFAULTS).map((v) => [v.key, mappingFields(v.mapping)]));
  const viewOf = new Map(objects.filter((o) => o.type === 'index-pattern').map((o, i) => [o.id, dataViews(INDEXER_DEFAULTS)[i]!.key]));
  for (const o of objects) {
    if (o.type === 'search') {
      const fields = views.get(viewOf.get(o.references[0]!.id)!)!;
      const src = JSON.parse((o.attributes.kibanaSavedObjectMeta as { searchSourceJSON: string }).searchSourceJSON) as { query: { query: string } };
      for (const f of [...(o.attributes.columns as string[]), ...kqlFields(src.query.query)]) t.ok(fields.has(f), `${o.attributes.title as string}: ${f}`);
    }
    if (o.type === 'lens') {
      const fields = views.get(viewOf.get(o.references[0]!.id)!)!;
      const cols = (o.attributes.state as { datasourceStates: { formBased: { layers: Record<string, { columns: Record<string, { sourceField: string }> }> } } }).datasourceStates.formBased.layers;
      for (const layer of Object.values(cols)) for (const c of Object.values(layer.columns)) if (c.sourceField !== '___records___') t.ok(fields.has(c.sourceField), `${o.attributes.title as string}: ${c.sourceField}`);
    }
  }
  // A field that is not in the template fails generation, not a dashboard.
  SEARCHES.push({ slug: 'x', title: 'bad', description: '', view: 'events', kql: 'process.nmae : x', columns: [] });
  t.teardown(() => void SEARCHES.pop());
  t.throws(() => savedObjects(INDEXER_DEFAULTS), new FieldError('bad: field process.nmae is not in the events index template'));
});

t.test('the operation searches and charts name the operation fields, each in the events template with the type they query', async (t) => {
  const fields = mappingFields(dataViews(INDEXER_DEFAULTS).find((v) => v.key === 'events')!.mapping);
  const bySlug = new Map(SEARCHES.map((s) => [s.slug, s]));
  const used = (slug: string): string[] => [...kqlFields(bySlug.get(slug)!.kql), ...bySlug.get(slug)!.columns];
  const opFields = ['filewarden.operation', 'filewarden.original_path', 'file.target_path', 'filewarden.mode', 'filewarden.change.old_mode', 'filewarden.change.special', 'filewarden.change.uid', 'filewarden.change.gid', 'filewarden.change.old_uid', 'filewarden.change.xattr'];
  t.strictSame(
    opFields.filter((f) => ['file-deletions', 'file-renames', 'permission-owner-changes', 'symlink-creations'].some((s) => used(s).includes(f))),
    opFields,
    'the deletion, rename, permission and symlink searches use every operation field between them',
  );
  t.strictSame(opFields.map((f) => [f, fields.get(f)]), opFields.map((f) => [f, 'keyword']), 'each is a keyword field of the events template');
  // Each search selects its operations by filewarden.operation, with the operation names the contract defines.
  const ops = (slug: string): string[] => [...bySlug.get(slug)!.kql.matchAll(/"(\w+)"/g)].map((m) => m[1]!);
  t.strictSame(
    ['file-deletions', 'file-renames', 'permission-owner-changes', 'symlink-creations'].map((s) => [s, ops(s)]),
    [
      ['file-deletions', Object.keys(OPERATIONS).filter((o) => OPERATIONS[o as OperationName].action === 'deletion')],
      ['file-renames', Object.keys(OPERATIONS).filter((o) => OPERATIONS[o as OperationName].action === 'rename')],
      ['permission-owner-changes', Object.keys(OPERATIONS).filter((o) => OPERATIONS[o as OperationName].action === 'attributes-modified')],
      ['symlink-creations', ['symlink']],
    ],
    'deletions, renames and attribute changes are exactly the operations of those ECS actions',
  );
  const lens = objects.filter((o) => o.type === 'lens' && /operation/.test(o.attributes.title as string));
  const sources = lens.flatMap((o) => Object.values((o.attributes.state as { datasourceStates: { formBased: { layers: Record<string, { columns: Record<string, { sourceField: string }> }> } } }).datasourceStates.formBased.layers).flatMap((l) => Object.values(l.columns).map((c) => c.sourceField)));
  t.strictSame(sources.filter((f) => f !== '___records___' && f !== '@timestamp').sort(), ['event.action', 'filewarden.operation'], 'the operation charts break down by event.action and filewarden.operation');
  const dash = objects.find((o) => o.type === 'dashboard' && o.attributes.title === 'filewarden: file operations')!;
  t.strictSame(
    dash.references.map((r) => r.id),
    [...['operations-over-time', 'operations'].map((s) => savedObjectId(`lens/${s}`)), ...['file-deletions', 'file-renames', 'permission-owner-changes', 'symlink-creations'].map((s) => savedObjectId(`search/${s}`))],
    'the file operations dashboard holds both charts and the four searches',
  );
});

t.test('every saved search query parses in the checked KQL subset', async (t) => {
  for (const s of SEARCHES) t.ok(kqlToQuery(s.kql), s.title);
  t.same(kqlToQuery('a : x and not b : "y z" or c : (1 or 2) and d : * and e : /p/*'), {
    bool: {
      should: [
        { bool: { filter: [{ match: { a: 'x' } }, { bool: { must_not: [{ match_phrase: { b: 'y z' } }] } }] } },
        { bool: { filter: [{ bool: { should: [{ match: { c: '1' } }, { match: { c: '2' } }], minimum_should_match: 1 } }, { exists: { field: 'd' } }, { query_string: { fields: ['e'], query: '\\/p\\/*' } }] } },
      ],
      minimum_should_match: 1,
    },
  }, 'and binds tighter than or, as in KQL');
  t.throws(() => kqlToQuery('a : {x}'), { name: 'KqlError' }, 'outside the subset is an error');
  t.throws(() => kqlToQuery('a : (x or'), { name: 'KqlError' });
});
