// Serves a prom-client registry as Prometheus text on GET /metrics. Shared by collector and indexer.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, type Registry } from 'prom-client';

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/** Listens on host:port (port 0 picks a free one); the URL says where. */
export function serveMetrics(registry: Registry, port: number, host = '127.0.0.1'): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (e: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${e.message}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const a = server.address() as AddressInfo;
      resolve({
        url: `http://${host}:${a.port}/metrics`,
        close: () => new Promise((r) => server.close(() => r())),
      });
    });
  });
}

/** A counter whose total lives elsewhere (kernel map, a component's stats): scraped on demand. */
export function mirroredCounter(registry: Registry, name: string, help: string, read: () => number): Counter {
  let last = 0;
  return new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const v = read();
      if (v > last) this.inc(v - last);
      last = Math.max(last, v);
    },
  });
}

/** Parses Prometheus text into name{labels} -> value, for `filewarden up`'s status line and tests. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.length === 0 || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}
