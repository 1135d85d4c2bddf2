// Masks the secret in a service URL (redis, rediss, http, https, ...) before it reaches a log
// line, a status line or JSON output: the user name stays, so the line still says who connects.

const MASK = '***';
/** Query parameters that carry a secret in the URL forms filewarden accepts (ioredis reads `password`). */
const SECRET_PARAMS = /^(password|pass|pwd|secret|token|api_?key)$/i;

/**
 * `redis://filewarden:s3cret@127.0.0.1:6380` becomes `redis://filewarden:***@127.0.0.1:6380`, and
 * `redis://:s3cret@h` becomes `redis://:***@h`. Everything else in the text is kept byte for byte
 * (no normalisation), so a redacted URL reads like the one configured. Text that is not a URL
 * with an authority is returned unchanged.
 */
export function redactUrl(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is.exec(url);
  if (!m) return url;
  const [, scheme, authority, rest] = m;
  // The user info ends at the last '@' of the authority, as WHATWG URL parsers read it.
  const at = authority.lastIndexOf('@');
  let auth = authority;
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(':');
    if (colon >= 0 && colon < userinfo.length - 1) auth = `${userinfo.slice(0, colon + 1)}${MASK}${authority.slice(at)}`;
  }
  return scheme + auth + redactQuery(rest);
}

function redactQuery(rest: string): string {
  const q = rest.indexOf('?');
  if (q < 0) return rest;
  const hash = rest.indexOf('#', q);
  const end = hash < 0 ? rest.length : hash;
  const params = rest
    .slice(q + 1, end)
    .split('&')
    .map((kv) => {
      const eq = kv.indexOf('=');
      return eq > 0 && SECRET_PARAMS.test(decodeSafe(kv.slice(0, eq))) && eq < kv.length - 1 ? `${kv.slice(0, eq + 1)}${MASK}` : kv;
    });
  return `${rest.slice(0, q + 1)}${params.join('&')}${rest.slice(end)}`;
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
