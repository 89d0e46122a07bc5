import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { WebSocket } from 'ws';
import { createLogger } from '../log.js';
import { createMetrics } from '../server/metrics.js';
import type { ServerContext } from '../server/context.js';
import { CloseCodes } from '../twilio/stream-messages.js';
import { StreamSession } from './stream-session.js';

/** Just enough of a ws WebSocket for a session that never reaches `start`. */
class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  closedWith?: number;
  send(): void {}
  close(code: number): void {
    this.closedWith ??= code;
    this.readyState = 3;
  }
  /** One message, processed now. */
  deliver(text: string): void {
    this.emit('message', Buffer.from(text), false);
  }
}

function session(): FakeSocket {
  const ws = new FakeSocket();
  const ctx = {
    config: { STREAM_START_TIMEOUT_MS: 600_000 },
    log: createLogger({ level: 'silent' }),
    metrics: createMetrics(),
  } as unknown as ServerContext;
  new StreamSession(ws as unknown as WebSocket, ctx);
  return ws;
}

const CONNECTED = '{"event":"connected","protocol":"Call","version":"1.0.0"}';

describe('StreamSession flood guard', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['performance', 'setTimeout', 'clearTimeout'] }));
  afterEach(() => vi.useRealTimers());

  it('closes a stream that sends far more than Twilio ever does', () => {
    const ws = session();
    for (let i = 0; i < 2000 && ws.closedWith === undefined; i++) {
      ws.deliver(CONNECTED);
      vi.advanceTimersByTime(1); // 1000 messages a second
    }
    expect(ws.closedWith).toBe(CloseCodes.flood);
  });

  it('keeps a healthy stream open through the backlog of a 12 s stall of our own', () => {
    const ws = session();
    // Twilio's pace: a message every 20 ms.
    for (let i = 0; i < 100; i++) {
      ws.deliver(CONNECTED);
      vi.advanceTimersByTime(20);
    }
    // Our event loop stalls for 12 s; Twilio kept sending, and the socket held it all.
    vi.advanceTimersByTime(12_000);
    for (let i = 0; i < 600; i++) ws.deliver(CONNECTED);
    for (let i = 0; i < 100; i++) {
      ws.deliver(CONNECTED);
      vi.advanceTimersByTime(20);
    }
    expect(ws.closedWith).toBeUndefined();
    // The credit a stall earned is gone once the backlog is through: a flood is still one.
    for (let i = 0; i < 600; i++) ws.deliver(CONNECTED);
    expect(ws.closedWith).toBe(CloseCodes.flood);
  });
});
