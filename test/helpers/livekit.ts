import { inject } from 'vitest';
import { AccessToken, RoomServiceClient, type VideoGrant } from 'livekit-server-sdk';
import { randomBytes } from 'node:crypto';

/** Credentials of the run's shared livekit-server (see global-setup.ts). */
export function livekit(): { url: string; apiKey: string; apiSecret: string } {
  return inject('livekit');
}

export function roomService(): RoomServiceClient {
  const lk = livekit();
  return new RoomServiceClient(lk.url.replace(/^ws/, 'http'), lk.apiKey, lk.apiSecret);
}

export async function tokenFor(
  identity: string,
  room: string,
  grant: Partial<VideoGrant> = {},
  kind?: string,
): Promise<string> {
  const lk = livekit();
  const at = new AccessToken(lk.apiKey, lk.apiSecret, { identity, ttl: 600 });
  if (kind) at.kind = kind;
  at.addGrant({
    roomJoin: true,
    room,
    canPublish: true,
    canSubscribe: true,
    canPublishData: true,
    canUpdateOwnMetadata: true,
    ...grant,
  });
  return at.toJwt();
}

/** A room name no other test uses. */
export function uniqueRoom(prefix = 'test'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

/** Polls until `check` returns true or the deadline passes. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
