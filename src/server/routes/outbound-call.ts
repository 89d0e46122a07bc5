import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { describeError } from '../../errors.js';
import { issueStreamToken } from '../../bridge/stream-token.js';
import { STREAM_PARAMS } from '../../twilio/stream-messages.js';
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
    ...webhookRouteOptions(ctx),
    preHandler: [rejectDuplicates, requireTwilioSignature(ctx, 'http')],
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
      const { config } = ctx;
      const base = publicBaseUrl(config.PUBLIC_URL, {
        headers: req.headers,
        protocol: req.protocol,
      });
      const expiresAt = Date.now() + config.STREAM_START_TIMEOUT_MS + 60_000;
      call.twiml = streamTwiml({
        streamUrl: `${toWebSocketUrl(base)}/media-stream`,
        parameters: {
          [STREAM_PARAMS.callSid]: p.CallSid,
          [STREAM_PARAMS.from]: call.from,
          [STREAM_PARAMS.to]: call.to,
          [STREAM_PARAMS.room]: call.room,
          [STREAM_PARAMS.token]: issueStreamToken(
            ctx.streamTokenSecret,
            p.CallSid,
            call.room,
            expiresAt,
          ),
          [STREAM_PARAMS.direction]: 'outbound',
        },
        statusCallbackUrl: config.STREAM_STATUS_CALLBACK ? `${base}/stream-status` : undefined,
        goodbye: config.GOODBYE_MESSAGE,
      });
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
    return reply.code(204).send();
  });
}
