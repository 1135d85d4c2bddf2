// `filewarden kibana import` against a local HTTP endpoint that checks the request the way Kibana's
// saved-objects import API documents it (Kibana itself cannot run here): POST to
// [/s/<space>]/api/saved_objects/_import?overwrite=true with kbn-xsrf, credentials, and a
// multipart/form-data body with one "file" part holding .ndjson. The endpoint answers as Kibana
// does, errors included, and the command turns each answer into a clear result.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import t, { type Test } from 'tap';
import { savedObjects } from '../../../kibana/src/saved-objects';
import { INDEXER_DEFAULTS } from '../../../indexer/src/worker/defaults';
import { cli } from '../../utils/stack';

interface Seen {
  problems: string[];
  space?: string;
  objects: { type: string; id: string }[];
}

/** Parses a multipart/form-data body into its parts (headers and content). */
function multipart(body: Buffer, boundary: string): { headers: Record<string, string>; content: string }[] {
  const text = body.toString('utf8');
  const delim = `--${boundary}`;
  if (!text.startsWith(delim) || !text.trimEnd().endsWith(`${delim}--`)) return [];
  return text
    .slice(delim.length, text.lastIndexOf(`${delim}--`))
    .split(`\r\n${delim}`)
    .map((raw) => {
      const part = raw.replace(/^\r\n/, '');
      const end = part.indexOf('\r\n\r\n');
      const headers: Record<string, string> = {};
      for (const l of part.slice(0, end).split('\r\n')) {
        const i = l.indexOf(':');
        headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      return { headers, content: part.slice(end + 4).replace(/\r\n$/, '') };
    });
}

/** A stand-in for Kibana's import endpoint: records what is wrong with a request, answers `reply`; over https with `tls`. */
async function fakeKibana(t: Test, reply: (seen: Seen) => { status: number; body: unknown }, tls?: { key: string; cert: string }): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s: Seen = { problems: [], objects: [] };
      const u = new URL(req.url!, 'http://x');
      const m = /^(?:\/s\/([a-z0-9_-]+))?\/api\/saved_objects\/_import$/.exec(u.pathname);
      if (req.method !== 'POST') s.problems.push(`method ${req.method}`);
      if (!m) s.problems.push(`path ${u.pathname}`);
      else if (m[1]) s.space = m[1];
      if (u.searchParams.get('overwrite') !== 'true') s.problems.push('overwrite is not true');
      if (!req.headers['kbn-xsrf']) s.problems.push('no kbn-xsrf header');
      if (!/^(ApiKey \S+|Basic \S+)$/.test(req.headers.authorization ?? '')) s.problems.push('no credentials');
      const ct = /^multipart\/form-data; boundary=(.+)$/.exec(req.headers['content-type'] ?? '');
      if (!ct) s.problems.push(`content-type ${req.headers['content-type']}`);
      const body = Buffer.concat(chunks);
      if (Number(req.headers['content-length']) !== body.length) s.problems.push('content-length does not match the body');
      const parts = ct ? multipart(body, ct[1]!) : [];
      if (parts.length !== 1) s.problems.push(`${parts.length} parts, the API takes one`);
      const file = parts[0];
      if (file && !/^form-data; name="file"; filename="[^"]+\.ndjson"$/.test(file.headers['content-disposition'] ?? '')) s.problems.push(`part ${file.headers['content-disposition']}`);
      for (const line of (file?.content ?? '').split('\n').filter(Boolean)) {
        try {
          const o = JSON.parse(line) as { type?: string; id?: string; exportedCount?: number };
          if (o.type && o.id) s.objects.push({ type: o.type, id: o.id });
          else if (o.exportedCount === undefined) s.problems.push(`a line without type and id: ${line.slice(0, 60)}`);
        } catch {
          s.problems.push(`a line that is not JSON: ${line.slice(0, 60)}`);
        }
      }
      seen.push(s);
      const r = reply(s);
      res.writeHead(r.status, { 'content-type': typeof r.body === 'string' ? 'text/html' : 'application/json' });
      res.end(typeof r.body === 'string' ? r.body : JSON.stringify(r.body));
    });
  };
  const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const ok = (s: Seen) => ({ status: 200, body: { success: true, successCount: s.objects.length, successResults: s.objects.map((o) => ({ ...o, meta: { title: 't' } })) } });

t.test('the import sends the documented multipart request and reports what Kibana imported', async (t) => {
  const k = await fakeKibana(t, ok);
  const r = await cli(['kibana', 'import', '--url', k.url, '--api-key', 'aWQ6a2V5']);
  t.equal(r.code, 0, r.stderr);
  t.same(k.seen[0]!.problems, [], 'the request is what the import API documents');
  t.equal(k.seen[0]!.objects.length, savedObjects(INDEXER_DEFAULTS).length, 'every saved object was sent');
  t.match(r.stdout, /imported 25 saved objects into the default space \(3 index-pattern, 9 search, 10 lens, 3 dashboard\)/);

  const r2 = await cli(['kibana', 'import', '--url', `${k.url}/`, '--user', 'elastic', '--password', 'pw', '--space', 'secops']);
  t.equal(r2.code, 0, r2.stderr);
  t.same(k.seen[1]!.problems, [], 'basic auth and a space');
  t.equal(k.seen[1]!.space, 'secops', 'the space is in the path');
});

t.test('each failure Kibana can answer is a clear error and exit 1', async (t) => {
  const cases: [string, { status: number; body: unknown }, RegExp][] = [
    ['bad credentials', { status: 401, body: { statusCode: 401, error: 'Unauthorized', message: '[security_exception]: unable to authenticate' } }, /refused the credentials \(401\).*unable to authenticate.*check --api-key/],
    ['no privilege', { status: 403, body: { statusCode: 403, error: 'Forbidden', message: 'Unable to bulk_create index-pattern' } }, /may not import saved objects in space secops \(403\).*management privilege/],
    ['no such space', { status: 404, body: { statusCode: 404, error: 'Not Found', message: 'Not Found' } }, /was not found \(404\).*does space secops exist/],
    [
      'refused objects',
      { status: 200, body: { success: false, successCount: 16, errors: [{ id: 'a', type: 'lens', meta: { title: 'top users' }, error: { type: 'missing_references', references: [{ type: 'index-pattern', id: 'zz' }] } }, { id: 'b', type: 'lens', meta: { title: 'x' }, error: { type: 'unsupported_type' } }] } },
      /imported 16 objects and refused 2:\n  lens a \(top users\): missing references index-pattern zz\n  lens b \(x\): this Kibana does not know the type lens/,
    ],
    ['not Kibana', { status: 200, body: '<html>proxy login</html>' }, /is not a saved-objects import result; is it Kibana\?/],
  ];
  for (const [name, answer, message] of cases) {
    const k = await fakeKibana(t, () => answer);
    const r = await cli(['kibana', 'import', '--url', k.url, '--api-key', 'aWQ6a2V5', '--space', 'secops']);
    t.equal(r.code, 1, `${name}: exit 1`);
    t.match(r.stderr, message, `${name}: ${r.stderr.trim().split('\n')[0]}`);
  }
  // A password written in the URL never reaches the terminal.
  const k404 = await fakeKibana(t, () => ({ status: 404, body: { statusCode: 404, error: 'Not Found', message: 'Not Found' } }));
  const withPw = await cli(['kibana', 'import', '--url', k404.url.replace('http://', 'http://elastic:s3cret-pw@'), '--api-key', 'aWQ6a2V5']);
  t.equal(withPw.code, 1);
  t.notMatch(withPw.stdout + withPw.stderr, /s3cret-pw/, 'the URL is shown without its password');
  const free = http.createServer();
  await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
  const port = (free.address() as AddressInfo).port;
  await new Promise<void>((r) => free.close(() => r()));
  const down = await cli(['kibana', 'import', '--url', `http://127.0.0.1:${port}`, '--api-key', 'k']);
  t.match(down.stderr, new RegExp(`cannot reach Kibana at http://127.0.0.1:${port}: ECONNREFUSED`), 'nothing listening');
  // Node's fetch will not connect to the ports the Fetch standard blocks (9 is "discard").
  const blocked = await cli(['kibana', 'import', '--url', 'http://127.0.0.1:9', '--api-key', 'k']);
  t.match(blocked.stderr, /cannot reach Kibana at http:\/\/127.0.0.1:9: fetch refuses port 9, one the Fetch standard blocks/, 'a blocked port says so');
  const both = await cli(['kibana', 'import', '--url', 'http://127.0.0.1:9', '--api-key', 'k', '--user', 'u', '--password', 'p']);
  t.match(both.stderr, /either --api-key or --user and --password, not both/);
  const badUrl = await cli(['kibana', 'import', '--url', 'kibana:5601', '--api-key', 'k']);
  t.match(badUrl.stderr, /^filewarden: --url must be a http:\/\/ or https:\/\/ URL \(http\(s\):\/\/host:port\), not "kibana:5601"$/m);
});

t.test('credentials written in the URL are sent as basic auth, and never printed', async (t) => {
  const k = await fakeKibana(t, ok);
  const r = await cli(['kibana', 'import', '--url', k.url.replace('http://', 'http://elastic:s3cret%40pw@')]);
  t.equal(r.code, 0, r.stderr);
  t.strictSame(k.seen[0]!.problems, [], 'the request carries credentials');
  t.notMatch(r.stdout + r.stderr, /s3cret/);
});

t.test('over https the import trusts the CA file it is given, refuses an unknown certificate, and skips the check only with --insecure', async (t) => {
  const dir = t.testdir();
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
  t.equal(made.status, 0, made.status === 0 ? 'openssl made a certificate' : `openssl failed: ${made.stderr}`);
  const k = await fakeKibana(t, ok, { key: fs.readFileSync(key, 'utf8'), cert: fs.readFileSync(cert, 'utf8') });
  const trusted = await cli(['kibana', 'import', '--url', k.url, '--api-key', 'aWQ6a2V5', '--ca', cert]);
  t.equal(trusted.code, 0, `--ca: the certificate is trusted: ${trusted.stderr}`);
  t.strictSame(k.seen[0]?.problems, [], 'the request arrived whole over TLS');
  const unknown = await cli(['kibana', 'import', '--url', k.url, '--api-key', 'aWQ6a2V5']);
  t.equal(unknown.code, 1, 'without --ca the self-signed certificate is refused');
  t.match(unknown.stderr, /cannot reach Kibana at https:\/\/127\.0\.0\.1:\d+: \S*SELF_SIGNED/, `with the reason: ${unknown.stderr.trim()}`);
  const insecure = await cli(['kibana', 'import', '--url', k.url, '--api-key', 'aWQ6a2V5', '--insecure']);
  t.equal(insecure.code, 0, `--insecure skips verification: ${insecure.stderr}`);
  t.equal(k.seen.length, 2, 'the refused attempt never reached the server');
  const noCa = await cli(['kibana', 'import', '--url', k.url, '--api-key', 'aWQ6a2V5', '--ca', path.join(dir, 'missing.pem')]);
  t.match(noCa.stderr, /cannot read the CA file \S+missing\.pem: ENOENT/);
});
