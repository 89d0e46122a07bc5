import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import {
  existsSync,
  mkdtempSync,
  openSync,
  closeSync,
  readFileSync,
  writeFileSync,
  rmSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RoomServiceClient } from 'livekit-server-sdk';
import { PbError } from '../errors.js';
import { ensureLiveKitServer } from './server-bin.js';
import { LocalRedis } from './redis-server.js';

export interface LiveKitCredentials {
  url: string;
  apiKey: string;
  apiSecret: string;
}

export interface LocalLiveKitOptions {
  binary?: string;
  /** Folder for the config and the server's log; a fresh temp folder by default. */
  workDir?: string;
  signal?: AbortSignal;
  startTimeoutMs?: number;
  onProgress?: (line: string) => void;
  /** Redis for multi-node or SIP; not needed for one node. */
  redisAddress?: string;
  /**
   * Start a throwaway redis-server for this server (unless `redisAddress` is given):
   * livekit-server's SIP API (trunks, dispatch rules) answers only with Redis.
   */
  sip?: boolean;
}

/** A free loopback TCP port, chosen by the kernel. */
export async function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() =>
        addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port')),
      );
    });
  });
}

async function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', () => {
      const { port } = sock.address();
      sock.close(() => resolve(port));
    });
  });
}

const live = new Set<LocalLiveKit>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort for a process that ends without calling stop(); SIGKILL of our own
  // process is covered by the parent-death signal set on the child (see start()).
  process.on('exit', () => {
    for (const lk of live) lk.killNow();
  });
}

/**
 * A real livekit-server on loopback with free ports and fresh random keys, owned by
 * this process: it stops on stop(), on abort, on exit, and when this process dies.
 */
export class LocalLiveKit implements LiveKitCredentials {
  readonly url: string;
  readonly httpUrl: string;
  readonly apiKey: string;
  readonly apiSecret: string;
  readonly logFile: string;
  readonly workDir: string;
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private stopping?: Promise<void>;
  private readonly ownsWorkDir: boolean;
  /** The redis-server started for `sip`; stopped with this server. */
  redis?: LocalRedis;

  private constructor(port: number, workDir: string, ownsWorkDir: boolean) {
    this.url = `ws://127.0.0.1:${port}`;
    this.httpUrl = `http://127.0.0.1:${port}`;
    this.apiKey = `pb${randomBytes(6).toString('hex')}`;
    this.apiSecret = randomBytes(24).toString('base64url');
    this.workDir = workDir;
    this.ownsWorkDir = ownsWorkDir;
    this.logFile = join(workDir, 'livekit-server.log');
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  static async start(opts: LocalLiveKitOptions = {}): Promise<LocalLiveKit> {
    const binary = await ensureLiveKitServer({ binary: opts.binary, onProgress: opts.onProgress });
    const redis = opts.sip && !opts.redisAddress ? await LocalRedis.start() : undefined;
    if (redis) opts = { ...opts, redisAddress: redis.address };
    // A free port can be taken by another process between our probe and the server's
    // bind (parallel test suites do this); a few fresh tries make that race harmless.
    for (let attempt = 1; ; attempt++) {
      try {
        const lk = await LocalLiveKit.startOnce(binary, opts);
        lk.redis = redis;
        return lk;
      } catch (err) {
        if (
          attempt >= 4 ||
          !(err instanceof PbError && /address already in use/.test(err.message))
        ) {
          await redis?.stop();
          throw err;
        }
        opts.onProgress?.(`livekit-server port was taken; retrying (attempt ${attempt + 1})`);
      }
    }
  }

  private static async startOnce(binary: string, opts: LocalLiveKitOptions): Promise<LocalLiveKit> {
    const [port, tcpPort, udpPort] = await Promise.all([
      freeTcpPort(),
      freeTcpPort(),
      freeUdpPort(),
    ]);
    const workDir = opts.workDir ?? mkdtempSync(join(tmpdir(), 'phonebridge-livekit-'));
    const lk = new LocalLiveKit(port, workDir, opts.workDir === undefined);
    const configFile = join(workDir, 'livekit.yaml');
    writeFileSync(
      configFile,
      [
        `port: ${port}`,
        'bind_addresses: ["127.0.0.1"]',
        'rtc:',
        `  tcp_port: ${tcpPort}`,
        `  udp_port: ${udpPort}`,
        '  use_external_ip: false',
        '  node_ip: 127.0.0.1',
        '  enable_loopback_candidate: true',
        'keys:',
        `  ${lk.apiKey}: ${lk.apiSecret}`,
        'logging:',
        '  level: info',
        ...(opts.redisAddress ? ['redis:', `  address: ${opts.redisAddress}`] : []),
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    await lk.spawn(binary, configFile, opts);
    return lk;
  }

  private async spawn(
    binary: string,
    configFile: string,
    opts: LocalLiveKitOptions,
  ): Promise<void> {
    const logFd = openSync(this.logFile, 'a');
    // setpriv's parent-death signal makes the kernel stop the server if this process
    // dies without running any handler (SIGKILL, OOM, an unhandled SIGINT), so no orphan
    // outlives us. KILL, not TERM: livekit-server 1.13.5 sometimes logs "exit requested"
    // on a TERM that arrives right after start-up and then never finishes its graceful
    // shutdown (two such servers were found alive 27 minutes later); a loopback server
    // whose owner is gone has nothing worth shutting down gracefully.
    const withPdeath = existsSync('/usr/bin/setpriv');
    const cmd = withPdeath ? '/usr/bin/setpriv' : binary;
    const args = withPdeath
      ? ['--pdeathsig', 'KILL', '--', binary, '--config', configFile]
      : ['--config', configFile];
    const child = spawn(cmd, args, { stdio: ['ignore', logFd, logFd], env: { ...process.env } });
    closeSync(logFd);
    this.child = child;
    live.add(this);
    installExitHook();
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    void this.exited.then(() => live.delete(this));
    const onAbort = (): void => void this.stop();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    void this.exited.then(() => opts.signal?.removeEventListener('abort', onAbort));

    const deadline = Date.now() + (opts.startTimeoutMs ?? 20_000);
    const client = new RoomServiceClient(this.httpUrl, this.apiKey, this.apiSecret);
    let lastError: unknown;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        const tail = readFileSync(this.logFile, 'utf8').trim().split('\n').slice(-1)[0] ?? '';
        if (this.ownsWorkDir) rmSync(this.workDir, { recursive: true, force: true });
        throw new PbError(
          'PB_ERR_LIVEKIT_START',
          `livekit-server exited during start-up (code ${child.exitCode ?? child.signalCode}): ${tail}`,
        );
      }
      try {
        await client.listRooms();
        return;
      } catch (err) {
        lastError = err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await this.stop();
    throw new PbError(
      'PB_ERR_LIVEKIT_START',
      `livekit-server did not answer within ${opts.startTimeoutMs ?? 20_000} ms; see ${this.logFile}`,
      {
        cause: lastError,
      },
    );
  }

  /** Stops the server (and only it): SIGTERM, then SIGKILL after a grace period. Safe to call twice. */
  stop(graceMs = 5_000): Promise<void> {
    this.stopping ??= (async () => {
      const child = this.child;
      if (child && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await this.exited;
        clearTimeout(timer);
      }
      live.delete(this);
      await this.redis?.stop();
      if (this.ownsWorkDir && process.env.PHONEBRIDGE_KEEP_LIVEKIT_LOGS !== '1') {
        rmSync(this.workDir, { recursive: true, force: true });
      }
    })();
    return this.stopping;
  }

  /** Synchronous kill for process-exit hooks, where nothing async runs any more. */
  killNow(): void {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    this.redis?.killNow();
  }
}
