import type { FastifyInstance } from 'fastify';
import { StreamSession } from '../../bridge/stream-session.js';
import type { ServerContext } from '../context.js';
import { requireTwilioSignature } from '../twilio-auth.js';

/** A media message is ~300 bytes; 64 KiB leaves room for odd payload sizes and nothing more. */
export const MAX_STREAM_MESSAGE_BYTES = 64 * 1024;

/** `GET /media-stream`: the signature is checked before the upgrade; the socket then belongs to a StreamSession. */
export function mediaStreamRoute(app: FastifyInstance, ctx: ServerContext): void {
  app.get(
    '/media-stream',
    { websocket: true, preValidation: requireTwilioSignature(ctx, 'ws') },
    (socket) => {
      new StreamSession(socket, ctx);
    },
  );
}
