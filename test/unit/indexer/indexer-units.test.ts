// The indexer's pure parts: daily index names from nanosecond wall times, deterministic ids,
// the job backoff, client configuration errors, and metrics text parsing.
import t from 'tap';
import { parseMetrics } from '../../../stack/src/metrics-server';
import { dayOf, eventId, isoNanos } from '../../../contract/src/event-document';
import { esClient, EsConfigError } from '../../../indexer/src/es-client';
import { backoffDelay } from '../../../indexer/src/worker/indexer-worker';

t.test('the daily index is the UTC day of the event, to the nanosecond', async (t) => {
  t.equal(dayOf(isoNanos(1764115199999999999n)), '2025.11.25');
  t.equal(dayOf(isoNanos(1764115200000000000n)), '2025.11.26');
  t.equal(dayOf(isoNanos(0n)), '1970.01.01');
});

t.test('an event id is the boot, the kernel timestamp and the thread', async (t) => {
  t.equal(eventId('b00t', 123n, 7), 'b00t-123-7');
});

t.test('job retries back off from 0.5 s, doubling, to a 30 s cap', async (t) => {
  t.same([1, 2, 3, 4, 7, 8, 100].map(backoffDelay), [500, 1000, 2000, 4000, 30_000, 30_000, 30_000]);
});

t.test('contradictory or unreadable connection settings are refused with a clear message', async (t) => {
  t.throws(() => esClient({ url: 'http://x:9200', apiKey: 'k', username: 'u', password: 'p' }), EsConfigError);
  t.throws(() => esClient({ url: 'http://x:9200', username: 'u' }), /both a username and a password/);
  t.throws(() => esClient({ url: 'https://x:9200', caFile: '/nonexistent.pem' }), /cannot read the CA file/);
  t.ok(esClient({ url: 'https://x:9200', apiKey: 'k', insecure: true }));
});

t.test('Prometheus text is read back by name and labels', async (t) => {
  const m = parseMetrics('# HELP a x\n# TYPE a counter\na_total 3\nq{state="wait"} 2\n\n');
  t.equal(m.get('a_total'), 3);
  t.equal(m.get('q{state="wait"}'), 2);
});
