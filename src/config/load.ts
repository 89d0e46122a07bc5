import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { configSchema, type Config } from './schema.js';
import { PbError } from '../errors.js';

export type Env = Record<string, string | undefined>;

/** Reads `.env` if present; the real environment wins over it. */
export function readDotEnv(path = '.env'): Env {
  if (!existsSync(path)) return {};
  return parseEnv(readFileSync(path, 'utf8'));
}

/**
 * Parses the environment once into a frozen Config. Every problem is reported
 * together in one message, so a broken deployment is fixed in one pass.
 */
export function loadConfig(env: Env = { ...readDotEnv(), ...process.env }): Config {
  const cleaned: Env = {};
  for (const [key, value] of Object.entries(env)) {
    // An empty value is how shells and compose files say "unset".
    if (value !== undefined && value.trim() !== '') cleaned[key] = value.trim();
  }
  const parsed = configSchema.safeParse(cleaned);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      problems.push(`${issue.path.join('.') || '(root)'} ${issue.message}`);
    }
  } else {
    const c = parsed.data;
    const lk = [c.LIVEKIT_URL, c.LIVEKIT_API_KEY, c.LIVEKIT_API_SECRET];
    if (lk.some((v) => v !== undefined) && lk.some((v) => v === undefined)) {
      problems.push(
        'LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET go together: set all three, or none to use a local livekit-server',
      );
    }
    if (c.BRIDGE_MODE === 'sip' && !c.LIVEKIT_SIP_HOST) {
      problems.push('LIVEKIT_SIP_HOST is required when BRIDGE_MODE=sip');
    }
    if (c.AGENT_MODE === 'openai' && !c.OPENAI_API_KEY) {
      problems.push('OPENAI_API_KEY is required when AGENT_MODE=openai');
    }
    if (c.PHONEBRIDGE_API_KEY && !(c.TWILIO_ACCOUNT_SID && c.TWILIO_AUTH_TOKEN)) {
      problems.push(
        'PHONEBRIDGE_API_KEY enables the outbound-call API, which places calls through Twilio: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN too',
      );
    }
    if (c.PHONEBRIDGE_API_KEY && c.BRIDGE_MODE === 'sip') {
      problems.push('PHONEBRIDGE_API_KEY: outbound calls need BRIDGE_MODE=stream');
    }
    if (c.SIP_USERNAME && !c.SIP_PASSWORD)
      problems.push('SIP_PASSWORD is required when SIP_USERNAME is set');
    if (c.SIP_PASSWORD && !c.SIP_USERNAME)
      problems.push('SIP_USERNAME is required when SIP_PASSWORD is set');
    if (c.BRIDGE_MODE === 'sip' && !c.SIP_USERNAME && c.SIP_ALLOWED_ADDRESSES.length === 0)
      problems.push(SIP_TRUNK_RESTRICTION);
  }
  if (problems.length > 0 || !parsed.success) {
    throw new PbError('PB_ERR_CONFIG', `Invalid configuration: ${problems.join('; ')}`);
  }
  const agentMode = parsed.data.AGENT_MODE ?? (parsed.data.OPENAI_API_KEY ? 'openai' : 'echo');
  return Object.freeze({ ...parsed.data, AGENT_MODE: agentMode });
}

const SIP_TRUNK_RESTRICTION =
  "SIP_USERNAME/SIP_PASSWORD or SIP_ALLOWED_ADDRESSES is required for SIP: LiveKit's inbound trunk must know whose INVITEs to accept";

export type Requirement = 'livekit' | 'twilio-signature' | 'sip-trunk';

/** Checks what one command needs beyond the schema, with one line naming the variable and why. */
export function requireSettings(config: Config, needs: Requirement[]): void {
  const problems: string[] = [];
  if (needs.includes('livekit') && !config.LIVEKIT_URL) {
    problems.push(
      'LIVEKIT_URL is not set: point it at your LiveKit server (with LIVEKIT_API_KEY and LIVEKIT_API_SECRET), or use `phonebridge dev` to start a local one',
    );
  }
  if (
    needs.includes('twilio-signature') &&
    config.TWILIO_VALIDATE_SIGNATURE &&
    !config.TWILIO_AUTH_TOKEN
  ) {
    problems.push(
      'TWILIO_AUTH_TOKEN is not set: it is needed to validate X-Twilio-Signature (set TWILIO_VALIDATE_SIGNATURE=false only for local experiments)',
    );
  }
  if (
    needs.includes('sip-trunk') &&
    !config.SIP_USERNAME &&
    config.SIP_ALLOWED_ADDRESSES.length === 0
  )
    problems.push(SIP_TRUNK_RESTRICTION);
  if (problems.length > 0)
    throw new PbError('PB_ERR_CONFIG', `Invalid configuration: ${problems.join('; ')}`);
}
