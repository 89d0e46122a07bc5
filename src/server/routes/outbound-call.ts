import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { describeError } from '../../errors.js';
import { issueStreamToken, streamTokenLifetimeMs } from '../../bridge/stream-token.js';
import { ANSWERED_BY_ATTRIBUTE, STREAM_PARAMS } from '../../twilio/stream-messages.js';
import type { Logger } from '../../log.js';
import { hangupTwiml, streamTwiml } from '../../twilio/twiml.js';
import {
  amdStatusParams,
  describeIssues,
  incomingCallParams,
} from '../../twilio/webhook-params.js';
import { publicBaseUrl, toWebSocketUrl } from '../../twilio/signature.js';
import type { ServerContext } from '../context.js';
import { OUTBOUND_REF } from '../place-call.js';
import { requireTwilioSignature } from '../twilio-auth.js';
import { badRequest, rejectDuplicates, webhookRouteOptions } from './webhook-common.js';

const refQuery = z.object({ ref: z.string().regex(OUTBOUND_REF).optional() });

function sendTwiml(reply: FastifyReply, twiml: string): FastifyReply {
  return reply.code(200).type('text/xml').send(twiml);
}

/**
 * `POST /outbound-call`: the callee answered a call the API placed, and Twilio asks what
 * to do: the same `<Connect><Stream>` as an inbound call, into the room that was made
 * (and the agent dispatched) before dialling. `POST /amd-status`: the AMD verdict.
 */
export function outboundCallRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const options = {
    ...webhookRouteOptions(),
    preHandler: [requireTwilioSignature(ctx, 'http'), rejectDuplicates],
  };

  app.post('/outbound-call', options, async (req, reply) => {
    const end = ctx.metrics.webhookLatency.startTimer({ route: 'outbound-call' });
    try {
      const parsed = incomingCallParams.safeParse(req.body ?? {});
      const query = refQuery.safeParse(req.query ?? {});
      if (!parsed.success || !query.success)
        return await badRequest(ctx, req, reply, describeIssues((parsed.error ?? query.error)!));
      const p = parsed.data;
      const ref = query.data.ref;
      const log = ctx.log.child({ callSid: p.CallSid, ...(ref && { callRef: ref }) });
      let call = ctx.registry.get(p.CallSid);
      if (!call && ref) {
        // Answered before Twilio's answer to our create request was handled: file it now.
        call = ctx.registry.get(ref);
        if (call) ctx.registry.rename(call, p.CallSid, log);
      }
      if (!call) {
        // Placed by another instance (round-robin load balancers do this): its record, in
        // the Redis the fleet shares, has what the TwiML needs; the stream token is
        // instance-independent, so whichever instance gets the stream adopts it.
        const rec = await ctx.records.get(p.CallSid).catch(() => undefined);
        if (rec && rec.outcome === null) {
          log.info(
            { room: rec.room },
            'Outbound call placed by another instance answered; connecting it',
          );
          ctx.metrics.calls.inc({ outcome: 'bridged' });
          return await sendTwiml(reply, answerTwiml(ctx, req, p.CallSid, rec));
        }
      }
      if (!call || call.ended || call.direction !== 'outbound') {
        log.warn(
          { known: !!call },
          'An outbound call was answered that this instance is not placing (ended, or unknown); hanging up',
        );
        return await sendTwiml(reply, hangupTwiml());
      }
      if (call.twiml) {
        log.info('Repeated webhook for an answered outbound call; answering as before');
        return await sendTwiml(reply, call.twiml);
      }
      call.twiml = answerTwiml(ctx, req, p.CallSid, call);
      // From now on the usual clock: the stream must start within STREAM_START_TIMEOUT_MS.
      ctx.registry.awaitStream(call);
      ctx.metrics.calls.inc({ outcome: 'bridged' });
      log.info({ room: call.room }, 'Outbound call answered; connecting the stream');
      return await sendTwiml(reply, call.twiml);
    } finally {
      end();
    }
  });

  app.post('/amd-status', options, async (req, reply) => {
    const parsed = amdStatusParams.safeParse(req.body ?? {});
    if (!parsed.success) return badRequest(ctx, req, reply, describeIssues(parsed.error));
    const { CallSid, AnsweredBy, MachineDetectionDuration } = parsed.data;
    const durationMs =
      MachineDetectionDuration === undefined ? undefined : Number(MachineDetectionDuration);
    const log = ctx.log.child({ callSid: CallSid });
    ctx.metrics.amdVerdicts.inc({ answered_by: AnsweredBy });
    await ctx.records
      .update(CallSid, { answeredBy: AnsweredBy, machineDetectionDurationMs: durationMs })
      .catch((err: unknown) =>
        log.warn({ err: describeError(err) }, 'Could not update the call record'),
      );
    const call = ctx.registry.get(CallSid);
    log.info(
      { answeredBy: AnsweredBy, machineDetectionDurationMs: durationMs, known: !!call },
      `Answering machine detection: ${AnsweredBy}`,
    );
    if (call && !call.ended) call.setAnsweredBy(AnsweredBy);
    // Not bridged here: the stream may be on another instance (or not started yet).
    if (!call || call.phase !== 'streaming')
      void relayVerdict(ctx, CallSid, call?.room, AnsweredBy, log);
    return reply.code(204).send();
  });
}

/** The `<Connect><Stream>` answer for an outbound call, from the call or its record. */
function answerTwiml(
  ctx: ServerContext,
  req: FastifyRequest,
  callSid: string,
  call: { from: string; to: string; room: string },
): string {
  const { config } = ctx;
  const base = publicBaseUrl(config.PUBLIC_URL, { headers: req.headers, protocol: req.protocol });
  const expiresAt = Date.now() + streamTokenLifetimeMs(config.STREAM_START_TIMEOUT_MS);
  return streamTwiml({
    streamUrl: `${toWebSocketUrl(base)}/media-stream`,
    parameters: {
      [STREAM_PARAMS.callSid]: callSid,
      [STREAM_PARAMS.from]: call.from,
      [STREAM_PARAMS.to]: call.to,
      [STREAM_PARAMS.room]: call.room,
      [STREAM_PARAMS.token]: issueStreamToken(ctx.streamTokenSecret, callSid, call.room, expiresAt),
      [STREAM_PARAMS.direction]: 'outbound',
    },
    statusCallbackUrl: config.STREAM_STATUS_CALLBACK ? `${base}/stream-status` : undefined,
    goodbye: config.GOODBYE_MESSAGE,
  });
}

/**
 * A verdict for a call no bridge of this instance carries: set it on the room's phone
 * participant through LiveKit's server API, whichever instance bridges it (the record, in
 * the Redis the fleet shares, names the room). The bridge joins within moments of the
 * stream starting and the verdict comes at least a second after the answer, but it is
 * retried for a few seconds in case it came first.
 */
async function relayVerdict(
  ctx: ServerContext,
  callSid: string,
  knownRoom: string | undefined,
  answeredBy: string,
  log: Logger,
): Promise<void> {
  try {
    const room = knownRoom ?? (await ctx.records.get(callSid))?.room;
    if (!room) return;
    for (let attempt = 0; attempt < 6; attempt++) {
      if (ctx.registry.get(callSid)?.phase === 'streaming') return; // the bridge has it now
      const participants = await ctx.livekit.rooms.listParticipants(room);
      // The bridge joins as `phone-…` (src/livekit/tokens.ts).
      const phone = participants.find((p) => p.identity.startsWith('phone-'));
      if (phone) {
        await ctx.livekit.rooms.updateParticipant(room, phone.identity, {
          attributes: { [ANSWERED_BY_ATTRIBUTE]: answeredBy },
        });
        log.info({ room }, 'Set the AMD verdict on the phone participant through the server API');
        return;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    log.info(
      { room },
      'No phone participant in the room yet; the bridge applies the verdict if it starts here',
    );
  } catch (err) {
    log.warn({ err: describeError(err) }, 'AMD verdict not delivered through the server API');
  }
}
