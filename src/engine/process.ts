import { spawn, type ChildProcess } from 'node:child_process';
import { PbError } from '../errors.js';
import type { Logger } from '../log.js';
import { relayEngineLog } from './log-relay.js';
import {
  decodeFrame,
  encodeHello,
  engineHello,
  FrameReader,
  PROTOCOL_VERSION,
  type AgentAudio,
  type EngineHello,
} from './protocol.js';

/** Past this much unwritten data the engine is not keeping up: caller audio is dropped. */
const MAX_PENDING_WRITE_BYTES = 1 << 20;
const HELLO_TIMEOUT_MS = 10_000;

export interface EngineProcessHandlers {
  onEvent(callId: number, event: unknown): void;
  onAudio(audio: AgentAudio): void;
  onStats(stats: unknown): void;
  /** The process ended (after `ready` resolved or not). */
  onExit(code: number | null, signal: NodeJS.Signals | null, reason: string): void;
}

/**
 * One running engine binary: spawned with pipes, the version handshake, frame parsing on
 * stdout, its JSON log lines on stderr re-logged into ours (a line with a callSid lands
 * in that call's story), and writes batched into one pipe write per event-loop turn.
 */
export class EngineProcess {
  readonly ready: Promise<EngineHello>;
  private readonly child: ChildProcess;
  private readonly reader = new FrameReader();
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private flushScheduled = false;
  private exited = false;
  private exitReason = '';
  /** Caller frames refused because the engine's pipe was full. */
  droppedWrites = 0;

  constructor(
    binary: string,
    args: string[],
    private readonly log: Logger,
    private readonly handlers: EngineProcessHandlers,
  ) {
    this.child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let settle!: { resolve: (h: EngineHello) => void; reject: (e: Error) => void };
    this.ready = new Promise<EngineHello>((resolve, reject) => (settle = { resolve, reject }));
    // Unhandled if nobody waits; the supervisor always does, tests may not.
    this.ready.catch(() => undefined);
    let helloSeen = false;
    const helloTimer = setTimeout(
      () => this.fail(`the media engine did not say hello within ${HELLO_TIMEOUT_MS} ms`),
      HELLO_TIMEOUT_MS,
    );
    helloTimer.unref();

    this.child.stdout!.on('data', (chunk: Buffer) => {
      try {
        this.reader.push(chunk, (type, body) => {
          const msg = decodeFrame(type, body);
          if (msg.kind === 'hello') {
            if (msg.version !== PROTOCOL_VERSION) {
              this.fail(
                `media engine protocol version mismatch: phonebridge speaks v${PROTOCOL_VERSION}, the engine v${msg.version} (rebuild it: npm run engine:ensure)`,
              );
              return;
            }
            const info = engineHello.safeParse(msg.info);
            if (!info.success) return this.fail('the media engine sent a malformed hello');
            helloSeen = true;
            clearTimeout(helloTimer);
            settle.resolve(info.data);
          } else if (!helloSeen) {
            this.fail('the media engine spoke before its hello: not a phonebridge engine?');
          } else if (msg.kind === 'audio') {
            this.handlers.onAudio(msg.audio);
          } else if (msg.kind === 'event') {
            this.handlers.onEvent(msg.callId, msg.event);
          } else if (msg.kind === 'stats') {
            this.handlers.onStats(msg.stats);
          } else {
            this.log.warn({ type: msg.type }, 'Unknown message type from the media engine dropped');
          }
        });
      } catch (err) {
        // A malformed frame cannot be skipped in a length-prefixed stream: the stream is
        // lost, so is this engine; the supervisor starts a fresh one.
        this.fail(`unreadable data from the media engine: ${(err as Error).message}`);
      }
    });
    relayEngineLog(this.child.stderr!, log, this.child.pid);
    this.child.stdin!.on('error', () => undefined); // EPIPE when it dies; 'exit' reports it
    this.child.once('error', (err) => {
      clearTimeout(helloTimer);
      settle.reject(new PbError('PB_ERR_ENGINE', `could not start ${binary}: ${err.message}`));
      this.markExited(null, null, err.message);
    });
    this.child.once('exit', (code, signal) => {
      clearTimeout(helloTimer);
      const why = this.exitReason || `exited (${code ?? signal})`;
      settle.reject(new PbError('PB_ERR_ENGINE', `the media engine ${why}`));
      this.markExited(code, signal, why);
    });
    this.send(encodeHello({ phonebridge: true }));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return !this.exited;
  }

  /**
   * Queues one frame for the next batched write. `droppable` frames (caller audio) are
   * refused while the engine is not draining its pipe; control frames never are.
   */
  send(frame: Buffer, droppable = false): boolean {
    if (this.exited) return false;
    if (
      droppable &&
      this.pendingBytes + (this.child.stdin?.writableLength ?? 0) > MAX_PENDING_WRITE_BYTES
    ) {
      this.droppedWrites++;
      return false;
    }
    this.pending.push(frame);
    this.pendingBytes += frame.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    return true;
  }

  /** Closes the engine's stdin (it leaves every room and exits), then kills it after graceMs. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.exited) return;
    this.flush();
    this.child.stdin!.end();
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  }

  /** Kills the engine at once (tests, and a stream we can no longer read). */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (!this.exited) this.child.kill(signal);
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0 || this.exited) return;
    const batch = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    this.child.stdin!.write(batch);
  }

  private fail(reason: string): void {
    if (this.exited) return;
    this.exitReason = reason;
    this.log.error({ pid: this.child.pid }, `Media engine failed: ${reason}`);
    this.child.kill('SIGKILL');
  }

  private markExited(code: number | null, signal: NodeJS.Signals | null, reason: string): void {
    if (this.exited) return;
    this.exited = true;
    this.pending = [];
    this.handlers.onExit(code, signal, reason);
  }
}
