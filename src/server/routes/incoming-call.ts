import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { maskPhone } from '../../log.js';
import { issueStreamToken, streamTokenLifetimeMs } from '../../bridge/stream-token.js';
import { STREAM_PARAMS } from '../../twilio/stream-messages.js';
import { apologyTwiml, busyTwiml, sipTwiml, streamTwiml } from '../../twilio/twiml.js';
import {
  describeIssues,
  incomingCallParams,
  type IncomingCallParams,
} from '../../twilio/webhook-params.js';
import { publicBaseUrl, toWebSocketUrl } from '../../twilio/signature.js';
import { sipCallUri } from '../../twilio/sip-uri.js';
import type { ServerContext } from '../context.js';
import { requireTwilioSignature } from '../twilio-auth.js';
import { admitCall } from '../admission.js';
import { badRequest, rejectDuplicates, webhookRouteOptions } from './webhook-common.js';

export function roomNameFor(callSid: string): string {
  return `call-${callSid}`;
}

/** `POST /incoming-call`: admit the call (or turn it away) and answer with TwiML. */
export function incomingCallRoute(app: FastifyInstance, ctx: ServerContext): void {
  app.post(
    '/incoming-call',
    {
      ...webhookRouteOptions(),
      preHandler: [requireTwilioSignature(ctx, 'http'), rejectDuplicates],
    },
    async (req, reply) => {
      const end = ctx.metrics.webhookLatency.startTimer({ route: 'incoming-call' });
      try {
        return await handle(ctx, req, reply);
      } finally {
        end();
      }
    },
  );
}

function sendTwiml(reply: FastifyReply, twiml: string): FastifyReply {
  return reply.code(200).type('text/xml').send(twiml);
}

async function handle(
  ctx: ServerContext,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const parsed = incomingCallParams.safeParse(req.body ?? {});
  if (!parsed.success) return badRequest(ctx, req, reply, describeIssues(parsed.error));
  const p: IncomingCallParams = parsed.data;
  const log = ctx.log.child({ callSid: p.CallSid });

  // Twilio retries a webhook it did not hear back from: same call, same answer, one slot.
  const existing = ctx.registry.get(p.CallSid);
  if (existing) {
    await existing.admission;
    // A call that is over gets a clean busy, never a second admission (or a 500).
    const over = existing.ended && existing.endReason !== 'admission_failed';
    log.info(
      { phase: existing.phase },
      over
        ? 'Repeated webhook for an ended call; answering busy'
        : 'Repeated webhook; answering as before',
    );
    return sendTwiml(reply, over || !existing.twiml ? busyTwiml() : existing.twiml);
  }

  log.info(
    { from: maskPhone(p.From), to: maskPhone(p.To), callStatus: p.CallStatus },
    `Incoming call: ${p.CallSid} from ${maskPhone(p.From)} to ${maskPhone(p.To)}`,
  );
  log.debug({ from: p.From, to: p.To }, 'Caller and callee numbers');

  const { config } = ctx;
  const room = roomNameFor(p.CallSid);
  const { answer } = await admitCall(
    ctx,
    { callSid: p.CallSid, from: p.From, to: p.To, room, log },
    (admission) => {
      if (admission.outcome === 'failed') return apologyTwiml(config.ERROR_MESSAGE);
      if (admission.outcome === 'busy' || admission.outcome === 'ended') return busyTwiml();
      return connectTwiml(ctx, req, p, room);
    },
  );
  return sendTwiml(reply, answer);
}

/** The TwiML that connects an admitted call: `<Dial><Sip>` or `<Connect><Stream>`. */
function connectTwiml(
  ctx: ServerContext,
  req: FastifyRequest,
  p: IncomingCallParams,
  room: string,
): string {
  const { config } = ctx;
  if (config.BRIDGE_MODE === 'sip') {
    return sipTwiml({
      sipUri: sipCallUri(config, room, p),
      username: config.SIP_USERNAME,
      password: config.SIP_PASSWORD,
    });
  }
  const base = publicBaseUrl(config.PUBLIC_URL, { headers: req.headers, protocol: req.protocol });
  const expiresAt = Date.now() + streamTokenLifetimeMs(config.STREAM_START_TIMEOUT_MS);
  return streamTwiml({
    streamUrl: `${toWebSocketUrl(base)}/media-stream`,
    parameters: {
      [STREAM_PARAMS.callSid]: p.CallSid,
      [STREAM_PARAMS.from]: p.From,
      [STREAM_PARAMS.to]: p.To,
      [STREAM_PARAMS.room]: room,
      [STREAM_PARAMS.token]: issueStreamToken(ctx.streamTokenSecret, p.CallSid, room, expiresAt),
    },
    statusCallbackUrl: config.STREAM_STATUS_CALLBACK ? `${base}/stream-status` : undefined,
    goodbye: config.GOODBYE_MESSAGE,
  });
}
