import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP proxy in front of the real livekit-server's API that can hold chosen Twirp
 * calls (`CreateRoom`, `CreateDispatch`, `DeleteRoom`, …) until the test lets them go,
 * so a test can put a status callback exactly between two steps of an admission. The
 * calls themselves reach the real server unchanged: LiveKit is not mocked, only slowed.
 */
export class LiveKitGate {
  /** Twirp method names in the order they arrived. */
  readonly seen: string[] = [];
  private readonly holds = new Map<string, { release: Promise<void>; open: () => void }>();
  private readonly waiters: { method: string; resolve: () => void }[] = [];

  private constructor(
    private readonly server: ReturnType<typeof createServer>,
    readonly url: string,
  ) {}

  /** A proxy to `target` (http(s):// or ws(s):// of the livekit-server). */
  static async start(target: string): Promise<LiveKitGate> {
    const upstream = new URL(target.replace(/^ws/, 'http'));
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const gate = new LiveKitGate(server, `http://127.0.0.1:${port}`);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      void gate.forward(upstream, req, res);
    });
    return gate;
  }

  /** Holds every `method` call from now on until `release(method)`. */
  hold(method: string): void {
    let open!: () => void;
    const release = new Promise<void>((resolve) => (open = resolve));
    this.holds.set(method, { release, open });
  }

  release(method: string): void {
    this.holds.get(method)?.open();
    this.holds.delete(method);
  }

  /** Resolves when the next `method` call arrives (ask before causing it). */
  next(method: string): Promise<void> {
    return new Promise((resolve) => this.waiters.push({ method, resolve }));
  }

  async stop(): Promise<void> {
    for (const m of [...this.holds.keys()]) this.release(m);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async forward(upstream: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.url?.split('/').pop() ?? '';
    this.seen.push(method);
    for (const w of this.waiters.filter((x) => x.method === method)) {
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve();
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    await this.holds.get(method)?.release;
    const out = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: req.url,
        method: req.method,
        headers: { ...req.headers, host: upstream.host },
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    out.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    out.end(Buffer.concat(chunks));
  }
}
