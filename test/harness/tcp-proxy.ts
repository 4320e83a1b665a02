import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on a loopback port in front of `127.0.0.1:<target>`, which a test cuts
 * (the listener closes and every connection through it is reset: the one process using
 * it loses its server while the others keep theirs, a partition) and heals again on
 * the same port.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private constructor(
    private readonly target: number,
    private port: number,
  ) {}

  static async start(target: number): Promise<TcpProxy> {
    const p = new TcpProxy(target, 0);
    await p.heal();
    return p;
  }

  /** `redis://127.0.0.1:<port>`: the URL of the proxied Redis. */
  get redisUrl(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get cut(): boolean {
    return this.server === undefined;
  }

  /** Listens (again) and forwards every new connection. */
  async heal(): Promise<void> {
    if (this.server) return;
    const s = createServer((client) => {
      const upstream = connect(this.target, '127.0.0.1');
      for (const x of [client, upstream]) {
        this.sockets.add(x);
        x.on('error', () => undefined);
        x.on('close', () => {
          this.sockets.delete(x);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => s.once('error', reject).listen(this.port, '127.0.0.1', resolve));
    this.port = (s.address() as AddressInfo).port;
    this.server = s;
  }

  /** Stops listening and resets every connection through the proxy. */
  async partition(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    const closed = new Promise((r) => s.close(r));
    for (const x of this.sockets) x.destroy();
    await closed;
  }
}
