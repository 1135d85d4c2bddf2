// Builds the Elasticsearch client from one options object: URL, API key or basic auth, TLS.
import fs from 'node:fs';
import { Client } from '@elastic/elasticsearch';

export interface EsConnectionOptions {
  url: string;
  /** Base64 "id:key" API key, as Elasticsearch returns it in `encoded`. */
  apiKey?: string;
  username?: string;
  password?: string;
  /** PEM file with the CA that signed the cluster's certificate. */
  caFile?: string;
  /** Skip certificate verification (test clusters only). @defaultValue false */
  insecure?: boolean;
  /** @defaultValue 30000 */
  requestTimeoutMs?: number;
}

export class EsConfigError extends Error {
  override readonly name = 'EsConfigError';
}

export function esClient(o: EsConnectionOptions): Client {
  if (o.apiKey && (o.username || o.password)) throw new EsConfigError('give either an API key or a username and password, not both');
  if ((o.username === undefined) !== (o.password === undefined)) throw new EsConfigError('basic auth needs both a username and a password');
  let ca: string | undefined;
  if (o.caFile) {
    try {
      ca = fs.readFileSync(o.caFile, 'utf8');
    } catch (e) {
      throw new EsConfigError(`cannot read the CA file ${o.caFile}: ${(e as NodeJS.ErrnoException).code}`);
    }
  }
  const tls = ca || o.insecure ? { ...(ca ? { ca } : {}), rejectUnauthorized: !o.insecure } : undefined;
  return new Client({
    node: o.url,
    auth: o.apiKey ? { apiKey: o.apiKey } : o.username !== undefined ? { username: o.username, password: o.password! } : undefined,
    tls,
    requestTimeout: o.requestTimeoutMs ?? 30_000,
    maxRetries: 2,
  });
}
