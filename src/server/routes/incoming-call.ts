import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { maskPhone } from '../../log.js';
import { issueStreamToken } from '../../bridge/stream-token.js';
import { STREAM_PARAMS } from '../../twilio/stream-messages.js';
import { apologyTwiml, busyTwiml, sipTwiml, streamTwiml } from '../../twilio/twiml.js';
import {
  describeIssues,
  incomingCallParams,
  type IncomingCallParams,
} from '../../twilio/webhook-params.js';
import { publicBaseUrl, toWebSocketUrl } from '../../twilio/signature.js';
import type { ServerContext } from '../context.js';
import { abandonAdmission, admitCall } from '../admission.js';
import { requireTwilioSignature } from '../twilio-auth.js';
import { badRequest, rejectDuplicates, webhookRouteOptions } from './webhook-common.js';

export function roomNameFor(callSid: string): string {
  return `call-${callSid}`;
}

/** `POST /incoming-call`: admit the call (or turn it away) and answer with TwiML. */
export function incomingCallRoute(app: FastifyInstance, ctx: ServerContext): void {
  app.post(
    '/incoming-call',
    {
      ...webhookRouteOptions(ctx),
      preHandler: [rejectDuplicates, requireTwilioSignature(ctx, 'http')],
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
  if (existing && !existing.ended) {
    await existing.admission;
    if (existing.twiml) {
      log.info('Repeated webhook for an admitted call; answering as before');
      return sendTwiml(reply, existing.twiml);
    }
  }

  log.info(
    { from: maskPhone(p.From), to: maskPhone(p.To), callStatus: p.CallStatus },
    `Incoming call: ${p.CallSid} from ${maskPhone(p.From)} to ${maskPhone(p.To)}`,
  );
  log.debug({ from: p.From, to: p.To }, 'Caller and callee numbers');

  const room = roomNameFor(p.CallSid);
  const { config } = ctx;
  const expiresAt = Date.now() + config.STREAM_START_TIMEOUT_MS + 60_000;
  const streamToken = issueStreamToken(ctx.streamTokenSecret, p.CallSid, room, expiresAt);
  const admission = await admitCall(ctx, {
    callSid: p.CallSid,
    from: p.From,
    to: p.To,
    room,
    streamToken,
    metadata: JSON.stringify({ callSid: p.CallSid, from: p.From, to: p.To }),
    log,
  });
  if (admission.kind === 'busy') {
    if (admission.call) abandonAdmission(ctx, admission.call, busyTwiml());
    return sendTwiml(reply, busyTwiml());
  }
  const call = admission.call;
  if (admission.kind === 'failed') {
    abandonAdmission(ctx, call, apologyTwiml(config.ERROR_MESSAGE));
    return sendTwiml(reply, call.twiml!);
  }

  const base = publicBaseUrl(config.PUBLIC_URL, { headers: req.headers, protocol: req.protocol });
  if (config.BRIDGE_MODE === 'sip') {
    const transport = config.SIP_TRANSPORT === 'udp' ? '' : `;transport=${config.SIP_TRANSPORT}`;
    call.twiml = sipTwiml({
      sipUri: `sip:${room}@${config.LIVEKIT_SIP_HOST ?? ''}${transport}`,
      username: config.SIP_USERNAME,
      password: config.SIP_PASSWORD,
    });
    // The media never reaches us in SIP mode; the slot is held until the status callback.
    call.phase = 'streaming';
  } else {
    call.twiml = streamTwiml({
      streamUrl: `${toWebSocketUrl(base)}/media-stream`,
      parameters: {
        [STREAM_PARAMS.callSid]: p.CallSid,
        [STREAM_PARAMS.from]: p.From,
        [STREAM_PARAMS.to]: p.To,
        [STREAM_PARAMS.room]: room,
        [STREAM_PARAMS.token]: streamToken,
      },
      statusCallbackUrl: config.STREAM_STATUS_CALLBACK ? `${base}/stream-status` : undefined,
      goodbye: config.GOODBYE_MESSAGE,
    });
    ctx.registry.awaitStream(call);
  }
  ctx.metrics.calls.inc({ outcome: 'bridged' });
  call.admissionDone();
  return sendTwiml(reply, call.twiml);
}
