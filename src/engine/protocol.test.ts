import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  decodeFrame,
  dtmfCode,
  encodeCallerAudio,
  encodeCallFrame,
  encodeCallJson,
  encodeDtmf,
  encodeHello,
  FrameReader,
  MessageType,
  PROTOCOL_VERSION,
} from './protocol.js';

interface Vector {
  name: string;
  hex: string;
  callId?: number;
  json?: unknown;
  payloadHex?: string;
  digit?: string;
  peak?: number;
  flags?: number;
  ageMicros?: number;
}
const vectors = JSON.parse(
  readFileSync(new URL('../../engine/testdata/vectors.json', import.meta.url), 'utf8'),
) as { version: number; toEngine: Vector[]; fromEngine: Vector[] };

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('engine protocol', () => {
  it('is the version the shared vectors were made for', () => {
    expect(vectors.version).toBe(PROTOCOL_VERSION);
  });

  it.each(vectors.toEngine.map((v) => [v.name, v] as const))(
    'encodes %s byte for byte as the engine parses it',
    (name, v) => {
      const id = v.callId ?? 0;
      const encoded: Record<string, () => Buffer> = {
        hello: () => encodeHello(v.json as object),
        join: () => encodeCallJson(MessageType.join, id, v.json as object),
        callerAudio: () => encodeCallerAudio(id, Buffer.from(v.payloadHex!, 'hex')),
        dtmf: () => encodeDtmf(id, v.digit!),
        leave: () => encodeCallFrame(MessageType.leave, id),
        rpcReply: () => encodeCallJson(MessageType.rpcReply, id, v.json as object),
        setAttributes: () => encodeCallJson(MessageType.setAttributes, id, v.json as object),
      };
      expect(hex(encoded[name]!())).toBe(v.hex);
    },
  );

  it('decodes what the engine sends', () => {
    const byName = Object.fromEntries(vectors.fromEngine.map((v) => [v.name, v]));
    const frames: ReturnType<typeof decodeFrame>[] = [];
    // All three frames in one chunk, then split at every byte: framing must not care.
    const stream = Buffer.concat(vectors.fromEngine.map((v) => Buffer.from(v.hex, 'hex')));
    for (const split of [stream.length, 1, 7]) {
      frames.length = 0;
      const reader = new FrameReader();
      for (let off = 0; off < stream.length; off += split) {
        reader.push(Buffer.from(stream.subarray(off, off + split)), (type, body) =>
          frames.push(structuredClone(decodeFrame(type, Buffer.from(body)))),
        );
      }
      expect(frames).toHaveLength(3);
      const [hello, audio, event] = frames;
      expect(hello).toMatchObject({
        kind: 'hello',
        version: PROTOCOL_VERSION,
        info: byName.hello!.json,
      });
      expect(audio).toMatchObject({
        kind: 'audio',
        audio: {
          callId: byName.agentAudio!.callId,
          peak: byName.agentAudio!.peak,
          flags: byName.agentAudio!.flags,
          ageMicros: byName.agentAudio!.ageMicros,
        },
      });
      if (audio?.kind === 'audio')
        expect(hex(audio.audio.g711)).toBe(byName.agentAudio!.payloadHex);
      expect(event).toEqual({ kind: 'event', callId: 7, event: byName.event!.json });
    }
  });

  it('refuses a desynchronised stream and malformed bodies', () => {
    const reader = new FrameReader();
    expect(() => reader.push(Buffer.from([0, 0, 0, 0, 1]), () => undefined)).toThrow(/out of step/);
    expect(() => decodeFrame(MessageType.agentAudio, Buffer.alloc(10))).toThrow(/agent audio/);
    expect(() => decodeFrame(MessageType.event, Buffer.from('{'))).toThrow();
    expect(decodeFrame(0x7f, Buffer.alloc(0))).toEqual({ kind: 'unknown', type: 0x7f });
  });

  it('checks caller frames and DTMF digits before they go out', () => {
    expect(() => encodeCallerAudio(1, new Uint8Array(159))).toThrow(/160 bytes/);
    expect(dtmfCode('*')).toBe(10);
    expect(dtmfCode('D')).toBe(15);
    expect(() => dtmfCode('E')).toThrow();
  });
});
