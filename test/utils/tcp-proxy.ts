// A TCP pass-through that a test can cut (connections reset, new ones refused) and restore on the
// same port: a real network outage between two real services, like toxiproxy, without a mock.
import net from 'node:net';
import tls from 'node:tls';

export interface ProxyOptions {
  /** Terminate TLS with this key and certificate (PEM) in front of a plain-text target. */
  tls?: { key: string; cert: string };
}

export class TcpProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;
  /** The Authorization header of each HTTP request seen (first packet of each request). */
  readonly authorizations: string[] = [];

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
    private readonly o: ProxyOptions = {},
  ) {}

  async start(port = 0): Promise<void> {
    const onClient = (client: net.Socket): void => {
      client.on('data', (d: Buffer) => {
        const m = /\r\nauthorization: ([^\r]*)\r\n/i.exec(d.toString('latin1'));
        if (m) this.authorizations.push(m[1]);
      });
      const upstream = net.connect(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    };
    const server = this.o.tls ? tls.createServer(this.o.tls, onClient) : net.createServer(onClient);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
  }

  get url(): string {
    return `${this.o.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  /** Resets every open connection and stops listening: clients see ECONNRESET, then ECONNREFUSED. */
  async cut(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const sock of this.sockets) sock.resetAndDestroy();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  /** Listens again on the same port. */
  restore(): Promise<void> {
    return this.start(this.port);
  }

  close(): Promise<void> {
    return this.cut();
  }
}
