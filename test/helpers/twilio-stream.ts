import WebSocket from 'ws';
import { randomBytes } from 'node:crypto';
import { decodeAlaw, decodeMulaw, encodeAlaw, encodeMulaw } from '../../src/audio/g711.js';
import { concatPcm } from '../../src/audio/analysis.js';
import { twilioSignature } from '../../src/twilio/signature.js';
import { AUTH_TOKEN, ACCOUNT_SID } from './phonebridge.js';

export interface Outbound {
  event: string;
  streamSid?: string;
  media?: { payload: string };
  mark?: { name: string };
}

/**
 * A bare Twilio Media Streams client for bridge tests: exact control over every
 * message (gaps, bursts, bad input). The full emulator with a playback clock is
 * src/sim; this one echoes marks as soon as they arrive.
 */
export class TwilioStream {
  readonly streamSid = 'MZ' + randomBytes(16).toString('hex');
  readonly received: Outbound[] = [];
  closeCode?: number;
  closeReason?: string;
  readonly closed: Promise<void>;
  private seq = 1;
  private chunk = 1;
  private timestampMs = 0;
  echoMarks = true;
  /** The stream's `mediaFormat.encoding`, set by start(): both directions use it. */
  encoding: 'audio/x-mulaw' | 'audio/x-alaw' = 'audio/x-mulaw';

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) =>
      ws.once('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        resolve();
      }),
    );
    ws.on('message', (data) => {
      const msg = JSON.parse((data as Buffer).toString()) as Outbound;
      this.received.push(msg);
      if (msg.event === 'mark' && this.echoMarks)
        this.sendJson({
          event: 'mark',
          streamSid: this.streamSid,
          sequenceNumber: String(this.seq++),
          mark: msg.mark,
        });
    });
  }

  static async open(serverUrl: string, signedWsUrl?: string): Promise<TwilioStream> {
    const url = `${serverUrl.replace(/^http/, 'ws')}/media-stream`;
    // Twilio connects (and signs) over wss://; locally we reach the same path over ws://.
    const sig = twilioSignature(AUTH_TOKEN, signedWsUrl ?? url.replace(/^ws:/, 'wss:'), {});
    const ws = new WebSocket(url, { headers: { 'x-twilio-signature': sig } });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new TwilioStream(ws);
  }

  sendJson(msg: unknown): void {
    this.ws.send(JSON.stringify(msg));
  }

  sendRaw(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  start(
    callSid: string,
    customParameters: Record<string, string>,
    encoding: 'audio/x-mulaw' | 'audio/x-alaw' = 'audio/x-mulaw',
  ): void {
    this.encoding = encoding;
    this.sendJson({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    this.sendJson({
      event: 'start',
      sequenceNumber: String(this.seq++),
      streamSid: this.streamSid,
      start: {
        accountSid: ACCOUNT_SID,
        streamSid: this.streamSid,
        callSid,
        tracks: ['inbound'],
        customParameters,
        mediaFormat: { encoding, sampleRate: 8000, channels: 1 },
      },
    });
  }

  /** One media message with the current timestamp; advances the timeline by its duration. */
  media(pcm: Int16Array): void {
    this.sendJson({
      event: 'media',
      sequenceNumber: String(this.seq++),
      streamSid: this.streamSid,
      media: {
        track: 'inbound',
        chunk: String(this.chunk++),
        timestamp: String(this.timestampMs),
        payload: Buffer.from(this.alaw ? encodeAlaw(pcm) : encodeMulaw(pcm)).toString('base64'),
      },
    });
    this.timestampMs += pcm.length / 8;
  }

  /** Leaves a hole in the timeline, as lost packets upstream of Twilio would. */
  skip(ms: number): void {
    this.timestampMs += ms;
  }

  /** Sends PCM as 20 ms messages at real-time pace (burst: all at once). */
  async play(pcm: Int16Array, opts: { burst?: boolean } = {}): Promise<void> {
    const t0 = performance.now();
    for (let i = 0, n = 0; i + 160 <= pcm.length; i += 160, n++) {
      if (!opts.burst) {
        const wait = t0 + n * 20 - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      if (this.ws.readyState !== WebSocket.OPEN) return;
      this.media(pcm.subarray(i, i + 160));
    }
  }

  dtmf(digit: string): void {
    this.sendJson({
      event: 'dtmf',
      streamSid: this.streamSid,
      sequenceNumber: String(this.seq++),
      dtmf: { track: 'inbound_track', digit },
    });
  }

  stop(callSid: string): void {
    this.sendJson({
      event: 'stop',
      streamSid: this.streamSid,
      sequenceNumber: String(this.seq++),
      stop: { accountSid: ACCOUNT_SID, callSid },
    });
  }

  mediaOut(): Outbound[] {
    return this.received.filter((m) => m.event === 'media');
  }

  /** The agent audio received so far, decoded. */
  heard(): Int16Array {
    return concatPcm(
      this.mediaOut().map((m) => {
        const bytes = Buffer.from(m.media!.payload, 'base64');
        return this.alaw ? decodeAlaw(bytes) : decodeMulaw(bytes);
      }),
    );
  }

  private get alaw(): boolean {
    return this.encoding === 'audio/x-alaw';
  }

  close(): void {
    this.ws.close();
  }
}
