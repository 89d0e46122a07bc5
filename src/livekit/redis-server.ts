import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { PbError } from '../errors.js';
import { freeTcpPort } from './local.js';

const INSTALL_HINT = "install Debian's redis-server package (apt-get install redis-server)";

/** Whether a `redis-server` program is on PATH. */
export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(port, '127.0.0.1', () => {
      s.end();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/**
 * A throwaway redis-server on a free loopback port: no persistence, no password (loopback
 * only), owned by this process like LocalLiveKit (parent-death signal, stop(), exit hook).
 * livekit-server needs one for its SIP API; phonebridge's shared call slots can use one.
 */
export class LocalRedis {
  private stopping?: Promise<void>;
  private readonly exited: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** `127.0.0.1:port`, as livekit-server's `redis.address` wants it. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get url(): string {
    return `redis://${this.address}`;
  }

  static async start(opts: { startTimeoutMs?: number } = {}): Promise<LocalRedis> {
    if (!hasRedisServer())
      throw new PbError('PB_ERR_REDIS_START', `redis-server is not installed: ${INSTALL_HINT}`);
    const port = await freeTcpPort();
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
    ];
    const withPdeath = existsSync('/usr/bin/setpriv');
    const child = withPdeath
      ? spawn('/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', 'redis-server', ...args], {
          stdio: 'ignore',
        })
      : spawn('redis-server', args, { stdio: 'ignore' });
    const redis = new LocalRedis(child, port);
    const onExit = (): void => redis.killNow();
    process.once('exit', onExit);
    void redis.exited.then(() => process.off('exit', onExit));
    const deadline = Date.now() + (opts.startTimeoutMs ?? 10_000);
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new PbError(
          'PB_ERR_REDIS_START',
          `redis-server exited during start-up (code ${child.exitCode ?? child.signalCode})`,
        );
      if (await answers(port)) return redis;
      await new Promise((r) => setTimeout(r, 50));
    }
    await redis.stop();
    throw new PbError(
      'PB_ERR_REDIS_START',
      `redis-server did not answer on ${redis.address} within ${opts.startTimeoutMs ?? 10_000} ms`,
    );
  }

  /** Stops the server: TERM, then KILL after the grace period. Safe to call twice. */
  stop(graceMs = 3_000): Promise<void> {
    this.stopping ??= (async () => {
      if (this.child.exitCode === null && this.child.signalCode === null) {
        this.child.kill('SIGTERM');
        const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
        await this.exited;
        clearTimeout(timer);
      }
    })();
    return this.stopping;
  }

  killNow(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
