import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of livekit-server's port that a test can cut. A cut models the
 * network between the media engine and LiveKit's signalling failing: every signalling
 * connection through the proxy is dropped, and new ones stall (as SYNs into a dead link
 * do) until `restore()`, when they go through. Server-API requests (`POST /twirp/…`,
 * which phonebridge makes on the same port) are never cut, so room deletion still works
 * while the call's signalling is down.
 */
export class SignalProxy {
  private cutUntil = 0;
  private readonly sockets = new Set<Socket>();
  private stalled: (() => void)[] = [];
  /** Connections let through after a stall, until they close. */
  private readonly released = new Set<Socket>();
  private restoreTimer?: NodeJS.Timeout;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<SignalProxy> {
    const holder: { proxy?: SignalProxy } = {};
    const server = createServer((client) => holder.proxy?.accept(client, targetPort));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const addr = server.address();
    holder.proxy = new SignalProxy(server, typeof addr === 'object' && addr ? addr.port : 0);
    return holder.proxy;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  get isCut(): boolean {
    return Date.now() < this.cutUntil;
  }

  /** Drops every signalling connection and stalls new ones for `ms`. */
  cut(ms: number): void {
    this.cutUntil = Date.now() + ms;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    clearTimeout(this.restoreTimer);
    this.restoreTimer = setTimeout(() => this.restore(), ms);
  }

  restore(): void {
    this.cutUntil = 0;
    clearTimeout(this.restoreTimer);
    for (const go of this.stalled.splice(0)) go();
  }

  /**
   * Resolves once every connection let through by the last restore has closed: whatever
   * the client attempted on it (a resume, a rejoin) has reached the server and is over.
   */
  async drained(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.released.size > 0) {
      if (Date.now() > deadline)
        throw new Error(`${this.released.size} connection(s) still open after the restore`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    clearTimeout(this.restoreTimer);
    this.stalled = [];
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, targetPort: number): void {
    client.once('data', (first) => {
      client.pause();
      const api = first.subarray(0, 12).toString('latin1').startsWith('POST /twirp');
      const connect = (head: Buffer, afterStall = false): void => {
        if (client.destroyed) return;
        if (afterStall) this.released.add(client);
        const upstream = createConnection(targetPort, '127.0.0.1', () => {
          upstream.write(head);
          client.pipe(upstream);
          upstream.pipe(client);
          client.resume();
        });
        const drop = (): void => {
          client.destroy();
          upstream.destroy();
          this.sockets.delete(client);
          this.released.delete(client);
        };
        upstream.on('error', drop).on('close', drop);
        client.on('error', drop).on('close', drop);
        if (!api) this.sockets.add(client);
      };
      if (api || !this.isCut) return connect(first);
      // Stalled: keep reading (buffering), so a client that gives up is seen to have gone
      // (its FIN) and what it sent is never delivered, as on a dead link. A paused socket
      // would not notice, and the restore would hand the server requests nobody awaits.
      const sent: Buffer[] = [first];
      let gone = false;
      const buffer = (d: Buffer): void => void sent.push(d);
      client
        .on('data', buffer)
        .once('end', () => (gone = true))
        .once('close', () => (gone = true));
      client.resume();
      this.stalled.push(() => {
        client.off('data', buffer);
        client.pause();
        if (gone) client.destroy();
        else connect(Buffer.concat(sent), true);
      });
    });
    client.on('error', () => undefined);
  }
}
