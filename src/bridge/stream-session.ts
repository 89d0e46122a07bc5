import type { WebSocket } from 'ws';
import { z } from 'zod';
import type { Logger } from '../log.js';
import type { ServerContext } from '../server/context.js';
import {
  CloseCodes,
  inboundMessage,
  STREAM_PARAMS,
  type StartMessage,
} from '../twilio/stream-messages.js';
import type { Call } from './call.js';
import { CallBridge } from './call-bridge.js';
import { FloodGuard } from './flood-guard.js';
import { bindStream } from './stream-binding.js';
import { ANSWERED_BY_ATTRIBUTE } from '../twilio/stream-messages.js';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

type ProblemKind =
  | 'binary'
  | 'non_json'
  | 'unknown_event'
  | 'invalid_message'
  | 'media_before_start'
  | 'bad_base64'
  | 'wrong_stream_sid'
  | 'duplicate_start';

/**
 * The Twilio side of one Media Stream WebSocket: validates every message, binds
 * the stream to its admitted call on `start`, and hands media to the call's bridge.
 * Bad input is counted and logged once per kind; only what makes the stream
 * unusable closes it.
 */
export class StreamSession {
  private call?: Call;
  private bridge?: CallBridge;
  private streamSid?: string;
  private log: Logger;
  private readonly seen = new Set<ProblemKind>();
  /** Twilio sends 50 media messages a second; ten times that, sustained, is a flood. */
  private readonly floodGuard = new FloodGuard({ limitPerSecond: 500 });
  private startTimer?: NodeJS.Timeout;
  private closed = false;
  /** Messages that arrive while `start` is being bound to its call, handled once it is. */
  private held?: { data: Buffer; isBinary: boolean; receivedAt: number }[];

  constructor(
    private readonly ws: WebSocket,
    private readonly ctx: ServerContext,
  ) {
    this.log = ctx.log.child({ component: 'media-stream' });
    this.log.info('Media stream WebSocket connected');
    ws.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    ws.on('close', (code, reason) => this.onClose(code, reason.toString()));
    ws.on('error', (err) => this.log.warn({ err: err.message }, 'Media stream socket error'));
    // A socket that never says which call it is must not hold a connection open.
    this.startTimer = setTimeout(() => {
      if (!this.call) this.close(CloseCodes.policy, 'no start message');
    }, ctx.config.STREAM_START_TIMEOUT_MS);
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    const receivedAt = performance.now();
    if (this.closed) return;
    if (this.flooded(receivedAt)) return;
    if (this.held) this.held.push({ data, isBinary, receivedAt });
    else this.handle(data, isBinary, receivedAt);
  }

  private handle(data: Buffer, isBinary: boolean, receivedAt: number): void {
    if (this.closed) return;
    if (isBinary) return this.problem('binary', 'binary frame ignored');
    let raw: unknown;
    try {
      raw = JSON.parse(data.toString('utf8'));
    } catch {
      return this.problem('non_json', 'message is not JSON');
    }
    const parsed = inboundMessage.safeParse(raw);
    if (!parsed.success) {
      const event = (raw as { event?: unknown } | null)?.event;
      if (
        typeof event === 'string' &&
        !['connected', 'start', 'media', 'dtmf', 'mark', 'stop'].includes(event)
      ) {
        return this.problem('unknown_event', `unknown event ${event.slice(0, 32)}`);
      }
      return this.problem(
        'invalid_message',
        z.prettifyError(parsed.error).split('\n').slice(0, 2).join(' '),
      );
    }
    const msg = parsed.data;
    if (msg.event === 'connected') return;
    if (msg.event === 'start') return void this.onStart(msg);
    if (!this.bridge || !this.call) {
      return this.problem('media_before_start', `${msg.event} before start`);
    }
    if (msg.streamSid !== this.streamSid)
      return this.problem('wrong_stream_sid', 'message for another stream');
    switch (msg.event) {
      case 'media': {
        if (msg.media.track === 'outbound') return;
        const payload = msg.media.payload;
        if (payload.length % 4 !== 0 || !BASE64.test(payload))
          return this.problem('bad_base64', 'payload is not base64');
        const ts = msg.media.timestamp === undefined ? undefined : Number(msg.media.timestamp);
        if (!this.bridge.onMedia(payload, ts, receivedAt))
          this.problem('bad_base64', 'payload decodes to nothing');
        return;
      }
      case 'dtmf':
        return this.bridge.onDtmf(msg.dtmf.digit);
      case 'mark':
        return this.bridge.onMark(msg.mark.name);
      case 'stop':
        this.log.info('Stream stopped by Twilio (caller hung up or call ended)');
        void this.ctx.registry.end(this.call, 'stream_stop');
        return;
    }
  }

  private async onStart(msg: StartMessage): Promise<void> {
    if (this.call || this.held)
      return this.problem('duplicate_start', 'second start message ignored');
    clearTimeout(this.startTimer);
    const { ctx } = this;
    const s = msg.start;
    const params = s.customParameters ?? {};
    const room = params[STREAM_PARAMS.room] ?? `call-${s.callSid}`;
    this.log = ctx.log.child({ callSid: s.callSid, streamSid: msg.streamSid });
    if (msg.streamSid !== s.streamSid)
      return this.close(CloseCodes.protocol, 'streamSid mismatch in start');
    this.held = [];
    const bound = await bindStream(
      ctx,
      {
        callSid: s.callSid,
        room,
        from: params[STREAM_PARAMS.from] ?? '',
        to: params[STREAM_PARAMS.to] ?? '',
        token: params[STREAM_PARAMS.token],
      },
      this.log,
    );
    if (!bound.ok) {
      this.held = undefined;
      this.log.warn({ reason: bound.reason }, `Refused stream: ${bound.why}`);
      return this.close(bound.code, bound.reason);
    }
    const call = bound.call;
    if (bound.adopted) {
      ctx.metrics.callsMoved.inc({ direction: 'adopted' });
      this.log.info('Adopted a call admitted elsewhere (stream token verified)');
    }
    if (this.closed || !ctx.registry.streamStarted(call, msg.streamSid)) {
      // Twilio hung up while we bound the stream, or the call ended meanwhile.
      this.held = undefined;
      void ctx.registry.end(call, 'socket_closed');
      return this.close(CloseCodes.unknownCall, 'call has ended');
    }
    this.call = call;
    this.streamSid = msg.streamSid;
    this.log.info({ room }, `Stream started: ${msg.streamSid} for call ${s.callSid}`);

    const bridge = new CallBridge(
      call,
      {
        config: ctx.config,
        metrics: ctx.metrics,
        callControl: ctx.callControl,
        media: ctx.media,
        endCall: (r) => void ctx.registry.end(call, r),
      },
      {
        streamSid: msg.streamSid,
        codec: s.mediaFormat?.encoding === 'audio/x-alaw' ? 'alaw' : 'mulaw',
        send: (m) => {
          if (this.ws.readyState === this.ws.OPEN) this.ws.send(m);
        },
        closeStream: (code, reason) => this.close(code, reason),
      },
    );
    this.bridge = bridge;
    // The AMD verdict of an outbound call, for the agent; one that came first is applied now.
    call.onAnsweredBy((v) => bridge.setCallerAttributes({ [ANSWERED_BY_ATTRIBUTE]: v }));
    const startedAt = Date.now();
    call.onTeardown(async () => {
      await bridge.teardown();
      this.close(CloseCodes.normal, call.endReason ?? 'call ended');
      call.log.info(
        { ...bridge.summary(), durationMs: Date.now() - startedAt, reason: call.endReason },
        'Bridge summary',
      );
    });
    const held = this.held ?? [];
    this.held = undefined;
    for (const m of held) this.handle(m.data, m.isBinary, m.receivedAt);
    // Failures to join end the call inside the bridge, after the caller heard why.
    await bridge.start();
  }

  private onClose(code: number, reason: string): void {
    this.closed = true;
    clearTimeout(this.startTimer);
    if (this.call && !this.call.ended) {
      this.log.info({ code, reason: reason.slice(0, 120) }, 'Media stream closed by Twilio');
      void this.ctx.registry.end(this.call, 'socket_closed');
    }
  }

  private close(code: number, reason: string): void {
    clearTimeout(this.startTimer);
    if (this.closed) return;
    this.closed = true;
    // Close reasons are limited to 123 bytes by the WebSocket protocol.
    this.ws.close(code, reason.slice(0, 120));
  }

  private flooded(now: number): boolean {
    if (this.floodGuard.admit(now)) return false;
    this.ctx.metrics.protocolErrors.inc({ kind: 'flood' });
    this.log.warn(
      { limit: this.floodGuard.limitPerSecond },
      'Message flood on the media stream; closing it',
    );
    this.close(CloseCodes.flood, 'message flood');
    if (this.call) void this.ctx.registry.end(this.call, 'protocol_error');
    return true;
  }

  private problem(kind: ProblemKind, detail: string): void {
    this.ctx.metrics.protocolErrors.inc({ kind });
    if (this.seen.has(kind)) return;
    this.seen.add(kind);
    this.log.warn(
      { kind, detail },
      `Bad media stream message (${kind}); further ones of this kind are counted, not logged`,
    );
  }
}
