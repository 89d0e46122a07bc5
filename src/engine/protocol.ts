/**
 * The framing between phonebridge and its media engine (engine/internal/wire is the Go
 * side; docs/engine-protocol.md the contract; engine/testdata/vectors.json the byte-exact
 * examples both sides test against). One frame: `u32 length (LE) | u8 type | body`, the
 * length counting the type byte and the body. Audio bodies are fixed binary layouts;
 * control bodies are one small JSON object. Nothing here allocates per audio frame beyond
 * the frame's own buffer.
 */
import { z } from 'zod';

/** Bumped whenever a message changes shape; each side refuses a peer of another version. */
export const PROTOCOL_VERSION = 2;
/** Larger length fields mean the stream is out of step (nothing legitimate is near it). */
export const MAX_FRAME_BYTES = 64 * 1024;
/** One 20 ms G.711 frame at 8 kHz. */
export const FRAME_BYTES = 160;

export const MessageType = {
  hello: 0x01,
  join: 0x10,
  callerAudio: 0x11,
  dtmf: 0x12,
  leave: 0x13,
  rpcReply: 0x14,
  setAttributes: 0x15,
  event: 0x20,
  agentAudio: 0x21,
  stats: 0x22,
} as const;

/** AgentAudio flag: the decoder synthesised this frame for a lost packet. */
export const FLAG_CONCEALED = 1;

export interface JoinRequest {
  callSid: string;
  url: string;
  token: string;
  codec: 'pcmu' | 'pcma';
  trackName: string;
  callerLeadMs: number;
  jitterMs: number;
  rpcMethods: string[];
}

/** Events the engine reports for a call; unknown fields are kept out by the schema. */
export const engineEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('joined'), room: z.string(), identity: z.string(), sid: z.string() }),
  z.object({ type: z.literal('published'), track: z.string() }),
  z.object({ type: z.literal('join_failed'), error: z.string() }),
  z.object({
    type: z.literal('agent_joined'),
    identity: z.string(),
    sid: z.string(),
    /** Its `phonebridge.*` attributes at join (e.g. the signals it sends). */
    attributes: z.record(z.string(), z.string()).optional(),
  }),
  z.object({
    type: z.literal('agent_attributes'),
    attributes: z.record(z.string(), z.string()),
  }),
  z.object({ type: z.literal('agent_left'), identity: z.string(), reason: z.string() }),
  z.object({ type: z.literal('agent_state'), state: z.string() }),
  z.object({
    type: z.literal('agent_track'),
    action: z.enum(['published', 'subscribed', 'unpublished', 'muted', 'unmuted']),
    track: z.string(),
  }),
  z.object({ type: z.literal('caller_subscribed'), track: z.string() }),
  z.object({ type: z.literal('reconnecting') }),
  z.object({ type: z.literal('reconnected') }),
  z.object({ type: z.literal('disconnected'), reason: z.string() }),
  z.object({
    type: z.literal('rpc'),
    id: z.string(),
    method: z.string(),
    identity: z.string().optional(),
    payload: z.string(),
  }),
  z.object({
    type: z.literal('data'),
    topic: z.string().optional(),
    payload: z.string(),
    identity: z.string(),
  }),
  z.object({
    type: z.literal('dtmf'),
    digit: z.string(),
    code: z.number().int(),
    identity: z.string(),
  }),
  z.object({ type: z.literal('left'), stats: z.record(z.string(), z.number()).optional() }),
]);
export type EngineEvent = z.infer<typeof engineEvent>;

export const engineHello = z.object({ engine: z.string(), pid: z.number().int(), go: z.string() });
export type EngineHello = z.infer<typeof engineHello>;

export const engineStats = z.object({
  calls: z.number(),
  goroutines: z.number(),
  droppedToPeer: z.number(),
  uptimeSeconds: z.number(),
  heapAllocBytes: z.number(),
});
export type EngineStats = z.infer<typeof engineStats>;

/** One decoded 20 ms frame of the agent's audio, already companded to the call's law. */
export interface AgentAudio {
  callId: number;
  /** Largest |sample| before companding: silence detection without decoding. */
  peak: number;
  flags: number;
  /** Time the audio spent inside the engine, µs (RTP arrival → queued for us). */
  ageMicros: number;
  /** FRAME_BYTES of G.711; a view into the read buffer, valid only during the callback. */
  g711: Uint8Array;
}

const AGENT_AUDIO_BODY = 12 + FRAME_BYTES;

function header(type: number, bodyBytes: number): Buffer {
  const buf = Buffer.allocUnsafe(5 + bodyBytes);
  buf.writeUInt32LE(1 + bodyBytes, 0);
  buf[4] = type;
  return buf;
}

export function encodeHello(info: object): Buffer {
  const json = Buffer.from(JSON.stringify(info));
  const buf = header(MessageType.hello, 2 + json.length);
  buf.writeUInt16LE(PROTOCOL_VERSION, 5);
  json.copy(buf, 7);
  return buf;
}

/** A frame whose body is a call id followed by `rest`. */
export function encodeCallFrame(type: number, callId: number, rest?: Uint8Array): Buffer {
  const n = rest?.length ?? 0;
  const buf = header(type, 4 + n);
  buf.writeUInt32LE(callId, 5);
  if (rest) buf.set(rest, 9);
  return buf;
}

export function encodeCallJson(type: number, callId: number, value: object): Buffer {
  return encodeCallFrame(type, callId, Buffer.from(JSON.stringify(value)));
}

export function encodeCallerAudio(callId: number, g711: Uint8Array): Buffer {
  if (g711.length !== FRAME_BYTES)
    throw new RangeError(`caller frames are ${FRAME_BYTES} bytes, got ${g711.length}`);
  return encodeCallFrame(MessageType.callerAudio, callId, g711);
}

const DTMF_DIGITS = '0123456789*#ABCD';

/** RFC 4733 event code of a DTMF digit (0-9, * = 10, # = 11, A-D = 12-15). */
export function dtmfCode(digit: string): number {
  const code = DTMF_DIGITS.indexOf(digit);
  if (digit.length !== 1 || code < 0) throw new RangeError(`not a DTMF digit: ${digit}`);
  return code;
}

export function encodeDtmf(callId: number, digit: string): Buffer {
  return encodeCallFrame(
    MessageType.dtmf,
    callId,
    Uint8Array.of(dtmfCode(digit), digit.charCodeAt(0)),
  );
}

/** Splits a byte stream into frames; push chunks as they arrive. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  /**
   * Calls `onFrame(type, body)` for every whole frame in `chunk` plus what was left over.
   * `body` is a view valid only during the callback. Throws on a desynchronised stream.
   */
  push(chunk: Buffer, onFrame: (type: number, body: Buffer) => void): void {
    const data = this.buf.length > 0 ? Buffer.concat([this.buf, chunk]) : chunk;
    let off = 0;
    while (data.length - off >= 4) {
      const n = data.readUInt32LE(off);
      if (n < 1 || n > MAX_FRAME_BYTES)
        throw new Error(`engine stream out of step: frame length ${n}`);
      if (data.length - off - 4 < n) break;
      onFrame(data[off + 4]!, data.subarray(off + 5, off + 4 + n));
      off += 4 + n;
    }
    // Keep a copy of the tail: `chunk` belongs to the stream and may be reused.
    this.buf = off === data.length ? Buffer.alloc(0) : Buffer.from(data.subarray(off));
  }
}

export type Decoded =
  | { kind: 'hello'; version: number; info: unknown }
  | { kind: 'event'; callId: number; event: unknown }
  | { kind: 'audio'; audio: AgentAudio }
  | { kind: 'stats'; stats: unknown }
  | { kind: 'unknown'; type: number };

/** Decodes one engine → phonebridge frame body; throws with a reason when malformed. */
export function decodeFrame(type: number, body: Buffer): Decoded {
  switch (type) {
    case MessageType.agentAudio:
      if (body.length !== AGENT_AUDIO_BODY)
        throw new Error(`agent audio body is ${body.length} bytes, want ${AGENT_AUDIO_BODY}`);
      return {
        kind: 'audio',
        audio: {
          callId: body.readUInt32LE(0),
          peak: body.readUInt16LE(4),
          flags: body.readUInt16LE(6),
          ageMicros: body.readUInt32LE(8),
          g711: body.subarray(12),
        },
      };
    case MessageType.event:
      if (body.length < 5) throw new Error('event body too short');
      return {
        kind: 'event',
        callId: body.readUInt32LE(0),
        event: JSON.parse(body.toString('utf8', 4)) as unknown,
      };
    case MessageType.hello:
      if (body.length < 2) throw new Error('hello body too short');
      return {
        kind: 'hello',
        version: body.readUInt16LE(0),
        info: JSON.parse(body.toString('utf8', 2)) as unknown,
      };
    case MessageType.stats:
      return { kind: 'stats', stats: JSON.parse(body.toString('utf8')) as unknown };
    default:
      return { kind: 'unknown', type };
  }
}
