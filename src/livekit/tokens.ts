import { AccessToken, TrackSource } from 'livekit-server-sdk';

/** `+1 (555) 123-4567` → `phone-15551234567`; withheld numbers → `phone-anonymous`. */
export function phoneIdentity(from: string | undefined): string {
  const digits = (from ?? '').replace(/\D/g, '').slice(0, 20);
  return digits ? `phone-${digits}` : 'phone-anonymous';
}

export interface PhoneTokenOptions {
  apiKey: string;
  apiSecret: string;
  room: string;
  identity: string;
  ttlSeconds: number;
  metadata?: string;
}

/**
 * The bridge's token: join one room, publish only a microphone, subscribe, data for
 * DTMF and RPC, and its own attributes (the AMD verdict for the agent). Nothing else (no
 * room admin, no recording).
 */
export async function phoneParticipantToken(opts: PhoneTokenOptions): Promise<string> {
  const at = new AccessToken(opts.apiKey, opts.apiSecret, {
    identity: opts.identity,
    name: 'Phone caller',
    ttl: opts.ttlSeconds,
    metadata: opts.metadata,
  });
  at.addGrant({
    roomJoin: true,
    room: opts.room,
    canPublish: true,
    canPublishSources: [TrackSource.MICROPHONE],
    canSubscribe: true,
    canPublishData: true,
    canUpdateOwnMetadata: true,
  });
  return at.toJwt();
}
