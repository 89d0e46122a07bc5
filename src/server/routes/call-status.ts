import type { FastifyInstance } from 'fastify';
import {
  callStatusParams,
  describeIssues,
  TERMINAL_STATUSES,
} from '../../twilio/webhook-params.js';
import type { ServerContext } from '../context.js';
import { requireTwilioSignature } from '../twilio-auth.js';
import { badRequest, rejectDuplicates, webhookRouteOptions } from './webhook-common.js';

/** `POST /call-status`: Twilio's status callback. A terminal status ends whatever is left of the call. */
export function callStatusRoute(app: FastifyInstance, ctx: ServerContext): void {
  app.post(
    '/call-status',
    {
      ...webhookRouteOptions(),
      preHandler: [requireTwilioSignature(ctx, 'http'), rejectDuplicates],
    },
    async (req, reply) => {
      const end = ctx.metrics.webhookLatency.startTimer({ route: 'call-status' });
      try {
        const parsed = callStatusParams.safeParse(req.body ?? {});
        if (!parsed.success) return await badRequest(ctx, req, reply, describeIssues(parsed.error));
        const { CallSid, CallStatus, CallDuration, SequenceNumber } = parsed.data;
        const log = ctx.log.child({ callSid: CallSid });
        // Calls placed through the API keep their history (a no-op for any other call).
        await recordStatus(ctx, CallSid, CallStatus, SequenceNumber, CallDuration).catch(
          (err: unknown) =>
            log.warn({ err: (err as Error).message }, 'Could not update the call record'),
        );
        const call = ctx.registry.get(CallSid);
        log.info(
          {
            callStatus: CallStatus,
            callDurationSeconds: CallDuration ? Number(CallDuration) : undefined,
            known: !!call,
          },
          `Call status ${CallStatus}`,
        );
        if (TERMINAL_STATUSES.has(CallStatus)) {
          // Whatever is still in flight for this CallSid (an admission, a stream token) must
          // not start it again, here or on another instance.
          ctx.endedCalls.add(CallSid);
          // Do not make Twilio wait for room deletion.
          if (call) void ctx.registry.end(call, 'status_callback');
          ctx.sharedSlots?.announceEnded(CallSid).catch((err: unknown) => {
            log.warn({ err: (err as Error).message }, 'Could not tell the fleet the call ended');
          });
        }
        return await reply.code(204).send();
      } finally {
        end();
      }
    },
  );

  // <Stream statusCallback>: stream-started / stream-stopped / stream-error, logged for the
  // call's story. Only asked for (and so only served) with STREAM_STATUS_CALLBACK=true.
  if (!ctx.config.STREAM_STATUS_CALLBACK) return;
  app.post(
    '/stream-status',
    {
      ...webhookRouteOptions(),
      preHandler: [requireTwilioSignature(ctx, 'http'), rejectDuplicates],
    },
    async (req, reply) => {
      const body = req.body as Record<string, string>;
      const callSid = typeof body.CallSid === 'string' ? body.CallSid.slice(0, 40) : undefined;
      const event =
        typeof body.StreamEvent === 'string' ? body.StreamEvent.slice(0, 40) : 'unknown';
      const error =
        typeof body.StreamError === 'string' ? body.StreamError.slice(0, 200) : undefined;
      ctx.log.info({ callSid, streamEvent: event, streamError: error }, `Stream status ${event}`);
      return reply.code(204).send();
    },
  );
}

async function recordStatus(
  ctx: ServerContext,
  callSid: string,
  status: string,
  sequenceNumber: string | undefined,
  callDuration: string | undefined,
): Promise<void> {
  await ctx.records.addStatus(callSid, {
    status,
    at: new Date().toISOString(),
    ...(sequenceNumber !== undefined && { sequenceNumber: Number(sequenceNumber) }),
  });
  if (callDuration !== undefined)
    await ctx.records.update(callSid, { durationSeconds: Number(callDuration) });
}
