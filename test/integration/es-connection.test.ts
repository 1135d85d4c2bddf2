// The Elasticsearch connection options do what they say against a real node behind TLS: the CA
// file is trusted, an unknown certificate is refused with a clear error unless --es-insecure,
// and basic-auth and API-key credentials are sent.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { tempDir } from '../utils/kernel';
import { TcpProxy } from '../utils/tcp-proxy';
import { cli, endpoints, uniqueName } from '../utils/stack';

t.test('https with --es-ca, --es-insecure, basic auth and API keys', async (t) => {
  const dir = tempDir(t, 'fw-tls-');
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
  t.equal(r.status, 0, r.status === 0 ? 'openssl made a certificate' : `openssl failed: ${r.stderr}`);
  const es = new URL(endpoints().elasticsearchUrl);
  const proxy = new TcpProxy(es.hostname, Number(es.port), { tls: { key: fs.readFileSync(key, 'utf8'), cert: fs.readFileSync(cert, 'utf8') } });
  await proxy.start();
  t.teardown(() => proxy.close());
  const prefix = ['--index-prefix', `${uniqueName('fwtls')}-events`, '--deadletter-index', `${uniqueName('fwtls')}-dead`, '--checkpoint-index', `${uniqueName('fwtls')}-ckpt`];

  const trusted = await cli(['gaps', '--es-url', proxy.url, '--es-ca', cert, ...prefix]);
  t.equal(trusted.code, 0, `the CA file is trusted: ${trusted.stderr}`);
  t.match(trusted.stdout, /no sequenced events found/);

  const untrusted = await cli(['gaps', '--es-url', proxy.url, ...prefix]);
  t.equal(untrusted.code, 1, 'an unknown certificate is refused');
  t.match(untrusted.stderr, /self[- ]signed certificate/i, 'with the reason');

  const insecure = await cli(['gaps', '--es-url', proxy.url, '--es-insecure', ...prefix]);
  t.equal(insecure.code, 0, '--es-insecure skips verification');

  const basic = await cli(['gaps', '--es-url', proxy.url, '--es-ca', cert, '--es-username', 'filewarden_writer', '--es-password', 's3cret', ...prefix]);
  t.equal(basic.code, 0);
  t.ok(proxy.authorizations.includes(`Basic ${Buffer.from('filewarden_writer:s3cret').toString('base64')}`), 'basic-auth credentials are sent');
  const apiKey = await cli(['gaps', '--es-url', proxy.url, '--es-ca', cert, ...prefix], { FILEWARDEN_ES_API_KEY: 'aWQ6a2V5' });
  t.equal(apiKey.code, 0);
  t.ok(proxy.authorizations.includes('ApiKey aWQ6a2V5'), 'the API key from FILEWARDEN_ES_API_KEY is sent');

  const both = await cli(['gaps', '--es-url', proxy.url, '--es-api-key', 'k', '--es-username', 'u', '--es-password', 'p', ...prefix]);
  t.equal(both.code, 1);
  t.match(both.stderr, /either an API key or a username and password/, 'contradictory credentials are refused up front');
});
