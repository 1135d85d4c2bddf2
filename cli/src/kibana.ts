// `filewarden kibana export` and `filewarden kibana import`: the saved objects for the configured
// index names, written to a file or sent to Kibana's import API (docs/kibana.md).
import fs from 'node:fs';
import { importSavedObjects } from '../../kibana/src/kibana-import';
import { savedObjects, toNdjson, type Names } from '../../kibana/src/saved-objects';

type Log = (line: string) => void;

export function kibanaExport(o: Names & { out?: string }, log: Log): number {
  const objects = savedObjects(o);
  const text = toNdjson(objects);
  if (o.out) {
    fs.writeFileSync(o.out, text);
    log(`kibana: ${objects.length} saved objects written to ${o.out}`);
  } else process.stdout.write(text);
  return 0;
}

export interface KibanaImportCliOptions extends Names {
  url: string;
  apiKey?: string;
  user?: string;
  password?: string;
  space?: string;
  ca?: string;
  insecure?: boolean;
  file?: string;
}

export async function kibanaImport(o: KibanaImportCliOptions, log: Log): Promise<number> {
  let ndjson: string;
  if (o.file) {
    try {
      ndjson = fs.readFileSync(o.file, 'utf8');
    } catch (e) {
      throw new Error(`cannot read ${o.file}: ${(e as NodeJS.ErrnoException).code}`);
    }
  } else ndjson = toNdjson(savedObjects(o));
  const r = await importSavedObjects({
    url: o.url,
    ndjson,
    ...(o.apiKey ? { apiKey: o.apiKey } : {}),
    ...(o.user !== undefined ? { user: o.user } : {}),
    ...(o.password !== undefined ? { password: o.password } : {}),
    ...(o.space ? { space: o.space } : {}),
    ...(o.ca ? { caFile: o.ca } : {}),
    ...(o.insecure ? { insecure: true } : {}),
  });
  log(`kibana: imported ${r.successCount} saved objects into ${o.space ? `space ${o.space}` : 'the default space'} (${Object.entries(r.byType).map(([t, n]) => `${n} ${t}`).join(', ')}), overwriting earlier copies`);
  return 0;
}
