// redactUrl: what log, status and doctor lines show of a service URL that carries a password.
import t from 'tap';
import { redactUrl } from '../../../stack/src/redact';

t.test('redactUrl masks the password of redis, rediss, http and https URLs and keeps the rest byte for byte', async (t) => {
  const cases: [string, string][] = [
    ['redis://filewarden:0123abcd@127.0.0.1:6380', 'redis://filewarden:***@127.0.0.1:6380'],
    ['rediss://default:s3cr%40t@redis.example:6380/2', 'rediss://default:***@redis.example:6380/2'],
    ['redis://:onlypass@h:1', 'redis://:***@h:1'],
    ['http://elastic:changeme@127.0.0.1:9200', 'http://elastic:***@127.0.0.1:9200'],
    ['https://u:p@es.example/path?q=1#frag', 'https://u:***@es.example/path?q=1#frag'],
    // An unencoded '@' in the password: the user info ends at the last '@', as URL parsers read it.
    ['redis://u:p@ss@h:1', 'redis://u:***@h:1'],
    ['redis://h:1/0?password=hunter2&db=1', 'redis://h:1/0?password=***&db=1'],
  ];
  for (const [url, want] of cases) t.equal(redactUrl(url), want, url);
});

t.test('redactUrl leaves URLs without a password, and text that is no URL, unchanged', async (t) => {
  for (const s of ['redis://127.0.0.1:6380', 'redis://filewarden@127.0.0.1:6380', 'http://127.0.0.1:9200', 'http://127.0.0.1:9200/', 'not a url', '']) {
    t.equal(redactUrl(s), s, JSON.stringify(s));
  }
});
