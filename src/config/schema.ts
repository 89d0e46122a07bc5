import { isIP } from 'node:net';
import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const int = (min: number, max: number) =>
  z.coerce
    .number({ message: 'must be a number' })
    .int({ message: 'must be a whole number' })
    .min(min, { message: `must be at least ${min}` })
    .max(max, { message: `must be at most ${max}` });

const httpUrl = z
  .url({ message: 'must be a URL such as https://example.com' })
  .refine((u) => /^https?:\/\//.test(u), { message: 'must start with http:// or https://' });

const livekitUrl = z
  .url({ message: 'must be a URL such as ws://127.0.0.1:7880 or wss://x.livekit.cloud' })
  .refine((u) => /^(wss?|https?):\/\//.test(u), {
    message: 'must start with ws://, wss://, http:// or https://',
  });

/** `203.0.113.5` or `203.0.113.0/24` (v4 or v6): LiveKit silently ignores a mask it cannot parse. */
function isAddressOrCidr(value: string): boolean {
  const [ip, bits, extra] = value.split('/');
  const family = ip ? isIP(ip) : 0;
  if (family === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d{1,3}$/.test(bits) && n <= (family === 4 ? 32 : 128);
}

const commaList = (item: z.ZodString) =>
  z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .pipe(z.array(item));

/** proxy-addr's names for whole ranges, which Fastify understands too. */
const PROXY_RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * Which proxy hops' X-Forwarded-For to believe for the client address: off (none, the
 * socket's peer is the client), a hop count, or the proxies' addresses/CIDRs. `true`
 * (believe every hop) is refused: it lets any client pick its own address.
 */
const trustProxy = z.string().transform((value, ctx): false | number | string[] => {
  const v = value.toLowerCase();
  if (['false', 'off', 'no', '0'].includes(v)) return false;
  if (/^\d+$/.test(v)) return Number(v);
  const entries = v
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  const bad = entries.filter((e) => !PROXY_RANGE_NAMES.has(e) && !isAddressOrCidr(e));
  if (v === 'true' || entries.length === 0 || bad.length > 0) {
    ctx.addIssue({
      code: 'custom',
      message: `must be off, a hop count, or a comma-separated list of proxy addresses or CIDRs${
        bad.length > 0 ? ` (not ${bad.slice(0, 3).join(', ')})` : ''
      }`,
    });
    return z.NEVER;
  }
  return entries;
});
const e164 = z.string().regex(/^\+[1-9]\d{6,14}$/, { message: 'must be an E.164 number' });

function splitList(s: string): string[] {
  return s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
}

export const TWILIO_API_DEFAULT_BASE_URL = 'https://api.twilio.com';

/** What the offline agents' shipped voicemail prompt says (scripts/render-prompts.sh). */
export const DEFAULT_VOICEMAIL_MESSAGE =
  'Hello, this is an automated call from the phonebridge demo line. Please call us back when you can. Goodbye.';

/**
 * Every setting phonebridge reads, with defaults. Names follow the ecosystem's own
 * (LIVEKIT_*, OPENAI_*, TWILIO_*) so an existing deployment's environment just works.
 * Durations are in milliseconds unless the name says otherwise.
 */
export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(0, 65535).default(8000),
  HOST: z.string().min(1).default('0.0.0.0'),
  PUBLIC_URL: httpUrl.optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  TWILIO_AUTH_TOKEN: z
    .string()
    .min(16, { message: 'looks too short for a Twilio Auth Token' })
    .optional(),
  TWILIO_ACCOUNT_SID: z
    .string()
    .regex(/^AC[0-9a-f]{32}$/, { message: 'must be AC followed by 32 hex digits' })
    .optional(),
  TWILIO_VALIDATE_SIGNATURE: bool.default(true),
  /** Where every Twilio REST request goes: the simulator's emulation offline. */
  TWILIO_API_BASE_URL: httpUrl.default(TWILIO_API_DEFAULT_BASE_URL),
  TWILIO_FROM_NUMBER: e164.optional(),

  /** Bearer keys of the outbound-call API (comma-separated, so a key can be rotated). */
  PHONEBRIDGE_API_KEY: z
    .string()
    .transform(splitList)
    .pipe(
      z.array(
        z.string().regex(/^[\x21-\x7E]{24,256}$/, {
          message: 'each key must be 24-256 printable characters without spaces',
        }),
      ),
    )
    .optional(),
  OUTBOUND_ALLOWED_PREFIXES: z
    .string()
    .transform(splitList)
    .pipe(
      z.array(
        z.string().regex(/^\+\d{1,15}$/, {
          message: 'each entry must be an E.164 prefix such as +1 or +4420',
        }),
      ),
    )
    .default([]),
  OUTBOUND_RING_TIMEOUT_SECONDS: int(5, 600).default(60),
  API_RATE_LIMIT_MAX: int(1, 1000000).default(60),
  CALL_RECORD_TTL_SECONDS: int(60, 30 * 86400).default(86400),
  VOICEMAIL_MESSAGE: z.string().min(1).max(1000).default(DEFAULT_VOICEMAIL_MESSAGE),

  LIVEKIT_URL: livekitUrl.optional(),
  LIVEKIT_API_KEY: z.string().min(3, { message: 'looks too short' }).optional(),
  LIVEKIT_API_SECRET: z.string().min(8, { message: 'looks too short' }).optional(),
  LIVEKIT_SERVER_BIN: z.string().min(1).optional(),
  PHONEBRIDGE_CACHE_DIR: z.string().min(1).optional(),

  OPENAI_API_KEY: z.string().min(8, { message: 'looks too short' }).optional(),
  OPENAI_BASE_URL: httpUrl.optional(),

  BRIDGE_MODE: z.enum(['stream', 'sip']).default('stream'),
  LIVEKIT_SIP_HOST: z
    .string()
    .regex(/^([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?$/, {
      message:
        'must be a host name or address with an optional port, such as abc123.sip.livekit.cloud (no sip:, no ;transport)',
    })
    .optional(),
  SIP_TRANSPORT: z.enum(['udp', 'tcp', 'tls']).default('tcp'),
  SIP_USERNAME: z
    .string()
    .regex(/^[A-Za-z0-9._@+-]{1,64}$/, {
      message: 'must be 1-64 letters, digits, dot, dash, underscore, @ or +',
    })
    .optional(),
  // The trunk is a public SIP endpoint: a guessable password lets anyone reach the agent.
  SIP_PASSWORD: z
    .string()
    .min(12, { message: 'must be at least 12 characters: it guards a public SIP endpoint' })
    .max(128, { message: 'must be at most 128 characters' })
    .regex(/^[\x21-\x7E]+$/, { message: 'must be printable ASCII without spaces' })
    .optional(),
  /** Source addresses (IPs or CIDRs) LiveKit's inbound trunk accepts INVITEs from. */
  SIP_ALLOWED_ADDRESSES: commaList(
    z.string().refine(isAddressOrCidr, {
      message: 'each entry must be an IP address or CIDR such as 203.0.113.0/24',
    }),
  ).default([]),

  MAX_CONCURRENT_CALLS: int(1, 100000).default(150),
  TOKEN_TTL_SECONDS: int(60, 86400).default(3600),
  STREAM_START_TIMEOUT_MS: int(1000, 600000).default(15000),
  AGENT_JOIN_TIMEOUT_MS: int(100, 600000).default(10000),
  RECONNECT_TIMEOUT_MS: int(100, 600000).default(10000),
  DRAIN_TIMEOUT_MS: int(0, 3600000).default(30000),
  OUTBOUND_QUEUE_MS: int(20, 2000).default(100),
  INBOUND_HOLD_MS: int(100, 60000).default(2000),
  ROOM_EMPTY_TIMEOUT_SECONDS: int(1, 3600).default(30),
  ROOM_MAX_PARTICIPANTS: int(2, 100).default(4),
  STREAM_STATUS_CALLBACK: bool.default(false),
  /** Load-test tracing: log when each probe burst passes each stage (BENCHMARKS.md). */
  PHONEBRIDGE_TRACE_ONSETS: bool.default(false),
  RATE_LIMIT_MAX: int(1, 1000000).default(120),
  TRUST_PROXY: trustProxy.default(false),
  RATE_LIMIT_WINDOW_MS: int(1000, 3600000).default(60000),
  ERROR_MESSAGE: z
    .string()
    .min(1)
    .max(500)
    .default('Sorry, we cannot take your call right now. Please try again later.'),
  GOODBYE_MESSAGE: z.string().min(1).max(500).default('Goodbye.'),
  /** With Redis, MAX_CONCURRENT_CALLS counts calls across every instance sharing it. */
  REDIS_URL: z.url({ message: 'must be a URL such as redis://127.0.0.1:6379' }).optional(),
  SHARED_SLOT_TTL_MS: int(3000, 3600000).default(60000),

  AGENT_NAME: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, {
      message: 'must be 1-64 letters, digits, dot, dash or underscore',
    })
    .default('phonebridge-agent'),
  /** mirror: the media engine's load-test agent instead of the Agents worker (dev, load tests). */
  AGENT_MODE: z.enum(['openai', 'echo', 'loopback', 'mirror']).optional(),
  /** false only for load tests, where `phonebridge responder` joins rooms itself. */
  AGENT_DISPATCH: bool.default(true),
  OPENAI_MODEL: z.string().min(1).default('gpt-realtime'),
  OPENAI_VOICE: z.string().min(1).default('alloy'),
  VAD_THRESHOLD: z.coerce
    .number({ message: 'must be a number' })
    .min(0, { message: 'must be between 0 and 1' })
    .max(1, { message: 'must be between 0 and 1' })
    .default(0.7),
  SILENCE_DURATION_MS: int(50, 10000).default(400),
  PREFIX_PADDING_MS: int(0, 5000).default(300),
  AGENT_INSTRUCTIONS: z.string().min(1).optional(),
  AGENT_INSTRUCTIONS_FILE: z.string().min(1).optional(),
  GREETING: z.enum(['caller-first', 'agent-first']).default('caller-first'),
  GREETING_TEXT: z.string().min(1).default('Hello! How can I help you today?'),
  SILENCE_PROMPT_AFTER_MS: int(1000, 600000).default(8000),
  TRANSFER_ALLOWLIST: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .pipe(
      z.array(
        z.string().regex(/^\+[1-9]\d{6,14}$/, { message: 'each entry must be an E.164 number' }),
      ),
    )
    .default([]),
  TRANSCRIPT_DIR: z.string().min(1).optional(),
  /** How long a forked agent job process may take to load before the worker gives up on it. */
  AGENT_PROCESS_INIT_TIMEOUT_MS: int(1000, 600000).default(30000),
  /**
   * Job processes the agent worker keeps loaded and idle, so a dispatch never waits for a
   * fork (every mode, dev included). Unset: one per core, at most 4 (the framework's own
   * production default).
   */
  AGENT_IDLE_PROCESSES: int(1, 32).optional(),
});

export type ConfigInput = z.input<typeof configSchema>;
export type Config = Readonly<z.output<typeof configSchema>> & {
  readonly AGENT_MODE: 'openai' | 'echo' | 'loopback' | 'mirror';
};

/** Settings whose values are secrets: never logged, never echoed back in errors. */
export const SECRET_KEYS = new Set([
  'TWILIO_AUTH_TOKEN',
  'PHONEBRIDGE_API_KEY',
  'LIVEKIT_API_SECRET',
  'OPENAI_API_KEY',
  'SIP_PASSWORD',
]);
