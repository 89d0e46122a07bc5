import { z } from 'zod';

/**
 * Twilio Media Streams messages, as documented: every message is one JSON text frame.
 * Counters (`sequenceNumber`, `chunk`, `timestamp`) arrive as decimal strings.
 * Schemas are strict where a mistake would corrupt audio, and tolerant of extra keys
 * Twilio may add later.
 */
const decimal = z.string().regex(/^\d{1,15}$/, { message: 'must be a decimal string' });
export const streamSidSchema = z
  .string()
  .regex(/^MZ[0-9a-f]{32}$/, { message: 'must be MZ followed by 32 hex digits' });
export const callSidSchema = z
  .string()
  .regex(/^CA[0-9a-f]{32}$/, { message: 'must be CA followed by 32 hex digits' });
export const accountSidSchema = z
  .string()
  .regex(/^AC[0-9a-f]{32}$/, { message: 'must be AC followed by 32 hex digits' });

export const connectedMessage = z.object({
  event: z.literal('connected'),
  protocol: z.string().max(64).optional(),
  version: z.string().max(64).optional(),
});

export const startMessage = z.object({
  event: z.literal('start'),
  sequenceNumber: decimal.optional(),
  streamSid: streamSidSchema,
  start: z.object({
    accountSid: accountSidSchema,
    streamSid: streamSidSchema,
    callSid: callSidSchema,
    tracks: z
      .array(z.enum(['inbound', 'outbound']))
      .max(2)
      .optional(),
    customParameters: z.record(z.string().max(128), z.string().max(2048)).optional(),
    mediaFormat: z
      .object({
        encoding: z.enum(['audio/x-mulaw', 'audio/x-alaw']),
        sampleRate: z.literal(8000),
        channels: z.literal(1),
      })
      .optional(),
  }),
});

export const mediaMessage = z.object({
  event: z.literal('media'),
  sequenceNumber: decimal.optional(),
  streamSid: streamSidSchema,
  media: z.object({
    track: z.enum(['inbound', 'outbound']).optional(),
    chunk: decimal.optional(),
    timestamp: decimal.optional(),
    // 64 KiB of base64 is far above any real frame; the socket's max payload caps it anyway.
    payload: z.string().min(1, { message: 'empty payload' }).max(65536),
  }),
});

export const dtmfMessage = z.object({
  event: z.literal('dtmf'),
  sequenceNumber: decimal.optional(),
  streamSid: streamSidSchema,
  dtmf: z.object({
    track: z.string().max(32).optional(),
    digit: z.string().regex(/^[0-9*#A-D]$/, { message: 'must be one DTMF digit' }),
  }),
});

export const markMessage = z.object({
  event: z.literal('mark'),
  sequenceNumber: decimal.optional(),
  streamSid: streamSidSchema,
  mark: z.object({ name: z.string().min(1).max(256) }),
});

export const stopMessage = z.object({
  event: z.literal('stop'),
  sequenceNumber: decimal.optional(),
  streamSid: streamSidSchema,
  stop: z
    .object({ accountSid: accountSidSchema.optional(), callSid: callSidSchema.optional() })
    .optional(),
});

/** Everything Twilio sends us on a Media Stream. */
export const inboundMessage = z.discriminatedUnion('event', [
  connectedMessage,
  startMessage,
  mediaMessage,
  dtmfMessage,
  markMessage,
  stopMessage,
]);

export type InboundMessage = z.infer<typeof inboundMessage>;
export type StartMessage = z.infer<typeof startMessage>;
export type MediaMessage = z.infer<typeof mediaMessage>;
export type DtmfMessage = z.infer<typeof dtmfMessage>;
export type MarkMessage = z.infer<typeof markMessage>;
export type StopMessage = z.infer<typeof stopMessage>;

/** What we send to Twilio: audio, marks, and clear (barge-in). */
export const outboundMessage = z.discriminatedUnion('event', [
  z.object({
    event: z.literal('media'),
    streamSid: streamSidSchema,
    media: z.object({ payload: z.string().min(1) }),
  }),
  z.object({
    event: z.literal('mark'),
    streamSid: streamSidSchema,
    mark: z.object({ name: z.string().min(1) }),
  }),
  z.object({ event: z.literal('clear'), streamSid: streamSidSchema }),
]);
export type OutboundMessage = z.infer<typeof outboundMessage>;

/** The `<Parameter>` names phonebridge puts in TwiML and expects back in `customParameters`. */
export const STREAM_PARAMS = {
  callSid: 'callSid',
  from: 'from',
  to: 'to',
  room: 'room',
  token: 'streamToken',
  direction: 'direction',
} as const;

/** The phone participant's attribute carrying Twilio's AnsweredBy verdict to the agent. */
export const ANSWERED_BY_ATTRIBUTE = 'phonebridge.answered_by';

/** Custom WebSocket close codes (4000-4999 are the application's). */
export const CloseCodes = {
  normal: 1000,
  goingAway: 1001,
  policy: 1008,
  tooBig: 1009,
  internal: 1011,
  unknownCall: 4001,
  protocol: 4002,
  duplicateStream: 4003,
  flood: 4004,
  agentUnavailable: 4005,
} as const;
