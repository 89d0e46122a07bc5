import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { maskPhone, type Logger } from '../../log.js';
import { describeError } from '../../errors.js';
import { issueStreamToken } from '../../bridge/stream-token.js';
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

  if (ctx.state.draining || !ctx.registry.hasRoom()) {
    ctx.metrics.calls.inc({ outcome: 'rejected_busy' });
    log.warn(
      {
        active: ctx.registry.active,
        capacity: ctx.registry.capacity,
        draining: ctx.state.draining,
      },
      ctx.state.draining ? 'Rejected call: draining for shutdown' : 'Rejected call: at capacity',
    );
    return sendTwiml(reply, busyTwiml());
  }

  const room = roomNameFor(p.CallSid);
  const { config } = ctx;
  const expiresAt = Date.now() + config.STREAM_START_TIMEOUT_MS + 60_000;
  const streamToken = issueStreamToken(ctx.streamTokenSecret, p.CallSid, room, expiresAt);
  const call = ctx.registry.admit({
    callSid: p.CallSid,
    from: p.From,
    to: p.To,
    room,
    log,
  });
  const metadata = JSON.stringify({ callSid: p.CallSid, from: p.From, to: p.To });

  // The local slot is taken first (synchronously, above) so this instance never
  // overshoots; Redis then holds the fleet-wide limit.
  if (ctx.sharedSlots && !(await acquireShared(ctx, p.CallSid, log))) {
    ctx.metrics.calls.inc({ outcome: 'rejected_busy' });
    log.warn({ capacity: config.MAX_CONCURRENT_CALLS }, 'Rejected call: the fleet is at capacity');
    call.twiml = busyTwiml();
    call.admissionDone();
    void ctx.registry.end(call, 'admission_failed');
    return sendTwiml(reply, call.twiml);
  }

  // SIP mode dispatches the agent with the room: the SIP participant joins a room that
  // already exists, so the dispatch rule's own room configuration would never apply.
  const dispatchWithRoom = config.AGENT_DISPATCH && config.BRIDGE_MODE === 'sip';
  try {
    await ctx.livekit.createCallRoom({
      name: room,
      metadata,
      emptyTimeoutSeconds: config.ROOM_EMPTY_TIMEOUT_SECONDS,
      maxParticipants: config.ROOM_MAX_PARTICIPANTS,
      ...(dispatchWithRoom && { agent: { name: config.AGENT_NAME, metadata } }),
    });
    log.info({ room }, `Created room '${room}' for call ${p.CallSid}`);
    if (config.AGENT_DISPATCH && config.BRIDGE_MODE === 'stream')
      await ctx.livekit.dispatchAgent(room, config.AGENT_NAME, metadata);
    if (config.AGENT_DISPATCH)
      log.info(
        { room, agentName: config.AGENT_NAME },
        `Dispatched agent '${config.AGENT_NAME}' to room '${room}'`,
      );
  } catch (err) {
    ctx.metrics.calls.inc({ outcome: 'rejected_error' });
    log.error(
      { err: describeError(err), room },
      'Could not set up the call in LiveKit; apologising and hanging up',
    );
    call.twiml = apologyTwiml(config.ERROR_MESSAGE);
    call.admissionDone();
    // Answer now; the teardown (deleting a half-made room) may wait on the same unhealthy LiveKit.
    void ctx.registry.end(call, 'admission_failed');
    return sendTwiml(reply, call.twiml);
  }

  const base = publicBaseUrl(config.PUBLIC_URL, { headers: req.headers, protocol: req.protocol });
  if (config.BRIDGE_MODE === 'sip') {
    call.twiml = sipTwiml({
      sipUri: sipCallUri(config, room, p),
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

/**
 * Fails open: when Redis is unreachable the call is taken (each instance's own limit
 * still holds), because refusing every caller is worse than briefly exceeding the
 * fleet-wide count.
 */
async function acquireShared(ctx: ServerContext, callSid: string, log: Logger): Promise<boolean> {
  try {
    return await ctx.sharedSlots!.acquire(callSid);
  } catch (err) {
    log.warn(
      { err: (err as Error).message },
      'Redis unavailable; admitting on the local limit only',
    );
    return true;
  }
}
