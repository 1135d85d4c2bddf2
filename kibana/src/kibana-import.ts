// `filewarden kibana import`: sends the saved objects to Kibana's saved-objects import API
// (POST /api/saved_objects/_import?overwrite=true, multipart/form-data with one "file" part, the
// kbn-xsrf header) and turns every failure into a sentence that says what to do.
import fs from 'node:fs';
import { Agent } from 'undici';
import { redactUrl } from '../../stack/src/redact';

export interface KibanaImportOptions {
  /** Kibana's base URL, e.g. https://kibana.example:5601 (a base path included). */
  url: string;
  /** Base64 "id:key" API key, as Elasticsearch returns it in `encoded`. */
  apiKey?: string;
  user?: string;
  password?: string;
  /** Kibana space id. @defaultValue the default space */
  space?: string;
  /** PEM CA for https. */
  caFile?: string;
  /** Skip certificate verification (test setups only). @defaultValue false */
  insecure?: boolean;
  /** The NDJSON to send. */
  ndjson: string;
  /** File name of the part (Kibana requires .ndjson). @defaultValue filewarden.ndjson */
  fileName?: string;
  /** For the whole exchange, answer included. @defaultValue 30000 */
  timeoutMs?: number;
}

export interface ImportResult {
  successCount: number;
  /** Objects imported, by type. */
  byType: Record<string, number>;
}

export class KibanaImportError extends Error {
  override readonly name = 'KibanaImportError';
}

interface ImportResponse {
  success?: boolean;
  successCount?: number;
  successResults?: { type: string; id: string }[];
  errors?: { id: string; type: string; title?: string; meta?: { title?: string }; error: { type: string; references?: { type: string; id: string }[]; message?: string } }[];
  message?: string;
  error?: string;
}

/** The import endpoint for a base URL and a space. */
export function importUrl(base: string, space?: string): URL {
  let u: URL;
  try {
    u = new URL(base);
  } catch {
    throw new KibanaImportError(`--url ${base} is not a URL (e.g. https://kibana.example:5601)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new KibanaImportError(`--url ${base}: Kibana is reached over http or https`);
  if (space !== undefined && !/^[a-z0-9_-]+$/.test(space)) throw new KibanaImportError(`--space ${space}: a space id is lowercase letters, digits, _ and -`);
  const path = u.pathname.replace(/\/+$/, '');
  u.pathname = `${path}${space && space !== 'default' ? `/s/${space}` : ''}/api/saved_objects/_import`;
  u.search = 'overwrite=true';
  return u;
}

/**
 * Node's fetch takes no CA and no "insecure" of its own: they go to the connection through a
 * dispatcher, an Agent of undici (the library behind Node's fetch; package.json pins it). Keep its
 * major version at the one Node bundles (6 in Node 20): undici does not promise that a dispatcher
 * of another major works with Node's fetch.
 */
function tlsAgent(o: KibanaImportOptions): Agent {
  let ca: string | undefined;
  if (o.caFile) {
    try {
      ca = fs.readFileSync(o.caFile, 'utf8');
    } catch (e) {
      throw new KibanaImportError(`cannot read the CA file ${o.caFile}: ${(e as NodeJS.ErrnoException).code}`);
    }
  }
  return new Agent({ connect: { ...(ca ? { ca } : {}), rejectUnauthorized: !o.insecure } });
}

export async function importSavedObjects(o: KibanaImportOptions): Promise<ImportResult> {
  if (o.apiKey && (o.user || o.password)) throw new KibanaImportError('give either --api-key or --user and --password, not both');
  if ((o.user === undefined) !== (o.password === undefined)) throw new KibanaImportError('--user needs --password (or FILEWARDEN_KIBANA_PASSWORD)');
  const url = importUrl(o.url, o.space);
  const headers: Record<string, string> = { 'kbn-xsrf': 'filewarden' };
  if (o.apiKey) headers.authorization = `ApiKey ${o.apiKey}`;
  else if (o.user !== undefined) headers.authorization = `Basic ${Buffer.from(`${o.user}:${o.password}`).toString('base64')}`;
  // fetch refuses a URL with credentials in it: they become basic auth, unless a key or a user is
  // given (as http.request did).
  if (url.username || url.password) {
    headers.authorization ??= `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
    url.username = url.password = '';
  }
  // One "file" part, as the import API documents it; fetch writes the boundary and the length.
  const body = new FormData();
  body.append('file', new Blob([o.ndjson], { type: 'application/ndjson' }), o.fileName ?? 'filewarden.ndjson');
  const dispatcher = url.protocol === 'https:' && (o.caFile || o.insecure) ? tlsAgent(o) : undefined;
  const timeout = o.timeoutMs ?? 30_000;
  let res: { status: number; text: string };
  try {
    const r = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeout), ...(dispatcher ? { dispatcher } : {}) });
    res = { status: r.status, text: await r.text() };
  } catch (e) {
    const err = e as Error & { cause?: NodeJS.ErrnoException };
    // fetch will not connect to the ports browsers block (the Fetch standard's "bad ports").
    const bad = err.cause?.message === 'bad port' ? `fetch refuses port ${url.port}, one the Fetch standard blocks; reach Kibana on another port` : undefined;
    const why = err.name === 'TimeoutError' ? `no answer in ${timeout / 1000} s` : (bad ?? err.cause?.code ?? err.cause?.message ?? err.message);
    throw new KibanaImportError(`cannot reach Kibana at ${url.origin}: ${why}`);
  } finally {
    await dispatcher?.close();
  }
  const text = res.text;
  let answer: ImportResponse = {};
  try {
    answer = JSON.parse(text) as ImportResponse;
  } catch {
    // not JSON: a proxy's page, or not Kibana at all
  }
  const said = answer.message ? `: ${answer.message}` : '';
  if (res.status === 401) throw new KibanaImportError(`Kibana refused the credentials (401)${said}; check --api-key or --user/--password`);
  if (res.status === 403) throw new KibanaImportError(`the user may not import saved objects${o.space ? ` in space ${o.space}` : ''} (403)${said}; it needs the saved-objects management privilege (all) in that space`);
  if (res.status === 404) throw new KibanaImportError(`${url.pathname} was not found (404)${said}: ${o.space ? `does space ${o.space} exist, and ` : ''}is ${redactUrl(o.url)} Kibana (with its base path)?`);
  if (res.status === 413) throw new KibanaImportError(`Kibana refused the file as too large (413); raise savedObjects.maxImportPayloadBytes`);
  if (res.status !== 200) throw new KibanaImportError(`Kibana answered ${res.status}${said || `: ${text.slice(0, 200)}`}`);
  if (typeof answer.success !== 'boolean') throw new KibanaImportError(`the answer from ${url.origin} is not a saved-objects import result; is it Kibana?`);
  if (!answer.success) {
    const lines = (answer.errors ?? []).map((e) => {
      const what = `${e.type} ${e.id}${e.meta?.title ?? e.title ? ` (${e.meta?.title ?? e.title})` : ''}`;
      if (e.error.type === 'missing_references') return `${what}: missing references ${(e.error.references ?? []).map((r) => `${r.type} ${r.id}`).join(', ')}`;
      if (e.error.type === 'unsupported_type') return `${what}: this Kibana does not know the type ${e.type}`;
      return `${what}: ${e.error.type}${e.error.message ? `: ${e.error.message}` : ''}`;
    });
    throw new KibanaImportError(`Kibana imported ${answer.successCount ?? 0} objects and refused ${lines.length}:\n${lines.map((l) => `  ${l}`).join('\n')}`);
  }
  const byType: Record<string, number> = {};
  for (const r of answer.successResults ?? []) byType[r.type] = (byType[r.type] ?? 0) + 1;
  return { successCount: answer.successCount ?? 0, byType };
}

