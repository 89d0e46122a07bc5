/**
 * The benchmark cases: each pairs our implementation with a baseline doing the same job,
 * on the same inputs. `check` runs once before timing so a broken fast path cannot
 * produce a flattering number.
 */
import { deepStrictEqual } from 'node:assert/strict';
import { decodeBase64Into } from '../src/audio/base64.js';
import {
  decodeAlaw,
  decodeAlawInto,
  decodeMulaw,
  decodeMulawInto,
  encodeAlaw,
  encodeAlawInto,
  encodeMulaw,
  encodeMulawInto,
} from '../src/audio/g711.js';
import { InboundFramer } from '../src/audio/inbound-framer.js';
import type { Loop } from './harness.js';
import {
  FRAME_SAMPLES,
  POOL,
  STREAM_SID,
  mulawFrames,
  pcmFrames,
  twilioMediaMessages,
} from './fixtures.js';
import { NaiveFramer, alaw, mulaw } from './naive.js';

export interface Case {
  name: string;
  /** What one "unit" is in the report: a sample or a 20 ms frame. */
  unit: 'sample' | 'frame';
  /** Units processed by one operation of the loop. */
  unitsPerOp: number;
  baselineLabel: string;
  ours: Loop;
  baseline: Loop;
  check?: () => void;
}

const MASK = POOL - 1;
const SECOND_SAMPLES = 8000;

const pcm = pcmFrames(POOL);
const pcmSecond = pcmFrames(8, SECOND_SAMPLES);
const mu = mulawFrames(pcm);
const muSecond = mulawFrames(pcmSecond);
const al = pcm.map((f) => encodeAlaw(f));
const messages = twilioMediaMessages(mu);
const payloads = mu.map((b) => Buffer.from(b).toString('base64'));

const outPcm = new Int16Array(SECOND_SAMPLES);
const outBytes = Buffer.alloc(SECOND_SAMPLES);

interface MediaMessage {
  media: { payload: string; timestamp: string };
}

function same(a: ArrayLike<number>, b: ArrayLike<number>): void {
  deepStrictEqual(Array.from(a), Array.from(b));
}

function codecCases(
  law: string,
  frames: { pcm: Int16Array[]; bytes: Uint8Array[] },
  ours: {
    decode: (b: Uint8Array) => Int16Array;
    encode: (p: Int16Array) => Uint8Array;
    decodeInto: typeof decodeMulawInto;
    encodeInto: typeof encodeMulawInto;
  },
  lib: typeof mulaw,
  libName: string,
): Case[] {
  const { pcm: p, bytes: b } = frames;
  const libDecode: Loop = (n) => {
    let acc = 0;
    for (let i = 0; i < n; i++) acc ^= lib.decode(b[i & MASK]!)[0]!;
    return acc;
  };
  const libEncode: Loop = (n) => {
    let acc = 0;
    for (let i = 0; i < n; i++) acc ^= lib.encode(p[i & MASK]!)[0]!;
    return acc;
  };
  const unit = { unit: 'sample' as const, unitsPerOp: FRAME_SAMPLES, baselineLabel: libName };
  return [
    {
      name: `${law} decode (allocating)`,
      ...unit,
      baselineLabel: `${libName}.decode`,
      ours: (n) => {
        let acc = 0;
        for (let i = 0; i < n; i++) acc ^= ours.decode(b[i & MASK]!)[0]!;
        return acc;
      },
      baseline: libDecode,
      check: () => same(ours.decode(b[0]!), lib.decode(b[0]!)),
    },
    {
      name: `${law} decodeInto (no allocation)`,
      ...unit,
      baselineLabel: `${libName}.decode`,
      ours: (n) => {
        let acc = 0;
        for (let i = 0; i < n; i++) acc ^= ours.decodeInto(b[i & MASK]!, outPcm);
        return acc;
      },
      baseline: libDecode,
    },
    {
      name: `${law} encode (allocating)`,
      ...unit,
      baselineLabel: `${libName}.encode`,
      ours: (n) => {
        let acc = 0;
        for (let i = 0; i < n; i++) acc ^= ours.encode(p[i & MASK]!)[0]!;
        return acc;
      },
      baseline: libEncode,
    },
    {
      name: `${law} encodeInto (no allocation)`,
      ...unit,
      baselineLabel: `${libName}.encode`,
      ours: (n) => {
        let acc = 0;
        for (let i = 0; i < n; i++) acc ^= ours.encodeInto(p[i & MASK]!, outBytes);
        return acc;
      },
      baseline: libEncode,
    },
  ];
}

const mulawCases = codecCases(
  'μ-law',
  { pcm, bytes: mu },
  {
    decode: decodeMulaw,
    encode: encodeMulaw,
    decodeInto: decodeMulawInto,
    encodeInto: encodeMulawInto,
  },
  mulaw,
  'mulaw',
);

const alawCases = codecCases(
  'A-law',
  { pcm, bytes: al },
  {
    decode: decodeAlaw,
    encode: encodeAlaw,
    decodeInto: decodeAlawInto,
    encodeInto: encodeAlawInto,
  },
  alaw,
  'alaw',
);

// Whole seconds of audio: throughput once per-call overhead no longer matters.
const throughputCases: Case[] = [
  {
    name: 'μ-law decodeInto, 1 s buffers',
    unit: 'sample',
    unitsPerOp: SECOND_SAMPLES,
    baselineLabel: 'mulaw.decode',
    ours: (n) => {
      let acc = 0;
      for (let i = 0; i < n; i++) acc ^= decodeMulawInto(muSecond[i & 7]!, outPcm);
      return acc;
    },
    baseline: (n) => {
      let acc = 0;
      for (let i = 0; i < n; i++) acc ^= mulaw.decode(muSecond[i & 7]!)[0]!;
      return acc;
    },
  },
  {
    name: 'μ-law encodeInto, 1 s buffers',
    unit: 'sample',
    unitsPerOp: SECOND_SAMPLES,
    baselineLabel: 'mulaw.encode',
    ours: (n) => {
      let acc = 0;
      for (let i = 0; i < n; i++) acc ^= encodeMulawInto(pcmSecond[i & 7]!, outBytes);
      return acc;
    },
    baseline: (n) => {
      let acc = 0;
      for (let i = 0; i < n; i++) acc ^= mulaw.encode(pcmSecond[i & 7]!)[0]!;
      return acc;
    },
  },
];

const b64Scratch = Buffer.alloc(4096);
let timestampSink = 0; // both paths parse the timestamp, as the bridge must
/** Decodes one message's audio into outPcm; returns the sample count. */
const ourInbound = (msg: string): number => {
  const m = JSON.parse(msg) as MediaMessage;
  const len = decodeBase64Into(m.media.payload, b64Scratch);
  decodeMulawInto(b64Scratch, outPcm, 0, 0, len);
  timestampSink ^= Number(m.media.timestamp);
  return len;
};
const naiveInbound = (msg: string): Int16Array => {
  const m = JSON.parse(msg) as MediaMessage;
  timestampSink ^= Number(m.media.timestamp);
  return mulaw.decode(Buffer.from(m.media.payload, 'base64'));
};

const wire = Buffer.alloc(1024);
const muScratch = Buffer.alloc(FRAME_SAMPLES);
// streamSid and base64 never need JSON escaping, so a template is exact and skips
// JSON.stringify's object walk.
const ourOutbound = (frame: Int16Array): string => {
  encodeMulawInto(frame, muScratch);
  return `{"event":"media","streamSid":"${STREAM_SID}","media":{"payload":"${muScratch.toString('base64', 0, FRAME_SAMPLES)}"}}`;
};
const naiveOutbound = (frame: Int16Array): string =>
  JSON.stringify({
    event: 'media',
    streamSid: STREAM_SID,
    media: { payload: Buffer.from(mulaw.encode(frame)).toString('base64') },
  });

function framerLoop(
  make: (onFrame: (f: Uint8Array) => void) => (b: Uint8Array, ts: number) => void,
): Loop {
  let acc = 0;
  let tsMs = 0;
  const push = make((f) => (acc ^= f[0]!));
  return (n) => {
    for (let i = 0; i < n; i++, tsMs += 20) push(mu[i & MASK]!, tsMs);
    return acc;
  };
}

const pipelineCases: Case[] = [
  {
    name: 'base64 decode of a 160-byte payload',
    unit: 'frame',
    unitsPerOp: 1,
    baselineLabel: "Buffer.from(payload, 'base64')",
    ours: (n) => {
      let acc = 0;
      for (let i = 0; i < n; i++) acc ^= decodeBase64Into(payloads[i & MASK]!, b64Scratch);
      return acc ^ b64Scratch[5]!;
    },
    baseline: (n) => {
      let acc = 0;
      for (let i = 0; i < n; i++) acc ^= Buffer.from(payloads[i & MASK]!, 'base64')[5]!;
      return acc;
    },
    check: () => {
      const len = decodeBase64Into(payloads[2]!, b64Scratch);
      same(b64Scratch.subarray(0, len), mu[2]!);
    },
  },
  {
    name: 'Twilio media parse + base64 + μ-law decode',
    unit: 'frame',
    unitsPerOp: 1,
    baselineLabel: 'JSON.parse, Buffer.from, mulaw.decode',
    ours: (n) => {
      let acc = 0;
      for (let i = 0; i < n; i++) acc ^= ourInbound(messages[i & MASK]!) ^ outPcm[7]!;
      return acc ^ timestampSink;
    },
    baseline: (n) => {
      let acc = 0;
      for (let i = 0; i < n; i++) acc ^= naiveInbound(messages[i & MASK]!)[7]!;
      return acc ^ timestampSink;
    },
    check: () => {
      const len = ourInbound(messages[1]!);
      same(outPcm.subarray(0, len), naiveInbound(messages[1]!));
    },
  },
  {
    name: 'outbound μ-law + base64 + JSON (+ utf8 write)',
    unit: 'frame',
    unitsPerOp: 1,
    baselineLabel: 'mulaw.encode, Buffer.from, JSON.stringify',
    // Both write the string out as the socket would, which also flattens our template.
    ours: (n) => {
      let acc = 0;
      for (let i = 0; i < n; i++) acc += wire.write(ourOutbound(pcm[i & MASK]!));
      return acc;
    },
    baseline: (n) => {
      let acc = 0;
      for (let i = 0; i < n; i++) acc += wire.write(naiveOutbound(pcm[i & MASK]!));
      return acc;
    },
    check: () =>
      deepStrictEqual(JSON.parse(ourOutbound(pcm[3]!)), {
        event: 'media',
        streamSid: STREAM_SID,
        media: { payload: Buffer.from(encodeMulaw(pcm[3]!)).toString('base64') },
      }),
  },
  {
    name: 'InboundFramer, 160-byte timestamped payloads',
    unit: 'frame',
    unitsPerOp: 1,
    baselineLabel: 'Buffer.concat framer (copying each frame out)',
    ours: framerLoop((onFrame) => {
      const f = new InboundFramer(onFrame);
      return (b, ts) => f.push(b, ts);
    }),
    baseline: framerLoop((onFrame) => {
      const f = new NaiveFramer(onFrame);
      return (b) => f.push(b);
    }),
  },
];

/** Every case, in report order. */
export const cases: Case[] = [...mulawCases, ...throughputCases, ...alawCases, ...pipelineCases];
