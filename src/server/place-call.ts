import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { describeError } from '../errors.js';
import { maskPhone, type Logger } from '../log.js';
import { twilioFailure } from '../twilio/rest-client.js';
import { admitCall } from './admission.js';
import type { ServerContext } from './context.js';
import type { StoredAnswer } from './idempotency.js';

const e164 = z.string().regex(/^\+[1-9]\d{6,14}$/, {
  message: 'must be an E.164 number such as +15555550123',
});
export const MAX_METADATA_BYTES = 4096;

/** `POST /calls`. Unknown fields are refused: a misspelt option must not be silently dropped. */
export const placeCallBody = z
  .object({
    to: e164,
    from: e164.optional(),
    metadata: z
      .record(z.string(), z.unknown(), { message: 'must be a JSON object' })
      .refine((m) => Buffer.byteLength(JSON.stringify(m)) <= MAX_METADATA_BYTES, {
        message: `must be at most ${MAX_METADATA_BYTES} bytes as JSON`,
      })
      .optional(),
    greeting: z.enum(['agent-first', 'caller-first']).default('agent-first'),
    machine: z.enum(['hangup', 'voicemail']).default('voicemail'),
    voicemailMessage: z.string().trim().min(1).max(1000).optional(),
  })
  .strict();
export type PlaceCallBody = z.infer<typeof placeCallBody>;

/** End reasons after which Twilio already knows the call is over (it told us, or we told it). */
const TWILIO_KNOWS = new Set(['status_callback', 'api_hangup', 'admission_failed']);

/** An outbound call's own reference, used until Twilio names the call (and in its room name). */
export const OUTBOUND_REF = /^out-[0-9a-f]{16}$/;

const fail = (
  status: number,
  code: string,
  message: string,
  extra: Record<string, unknown> = {},
): StoredAnswer => ({ status, body: { error: { code, message, ...extra } } });

/**
 * Places one call: a slot, the room and the agent first (so the agent is listening when
 * the callee picks up), then Twilio's create request with asynchronous AMD. `base` is the
 * public URL Twilio will call back. Every failure frees what was taken.
 */
export async function placeCall(
  ctx: ServerContext,
  body: PlaceCallBody,
  base: string,
  parentLog: Logger,
): Promise<StoredAnswer> {
  const { config, metrics } = ctx;
  const to = body.to;
  if (!config.OUTBOUND_ALLOWED_PREFIXES.some((p) => to.startsWith(p))) {
    metrics.outboundCalls.inc({ outcome: 'not_allowed' });
    parentLog.warn(
      { to: maskPhone(to) },
      'Refused outbound call: number outside OUTBOUND_ALLOWED_PREFIXES',
    );
    return fail(403, 'PB_ERR_NUMBER_NOT_ALLOWED', 'to is not within OUTBOUND_ALLOWED_PREFIXES');
  }
  const from = body.from ?? config.TWILIO_FROM_NUMBER;
  if (!from) {
    return fail(400, 'PB_ERR_BAD_REQUEST', 'from is required: pass it or set TWILIO_FROM_NUMBER');
  }
  const ref = `out-${randomBytes(8).toString('hex')}`;
  const room = `call-${ref}`;
  const log = parentLog.child({ callRef: ref });
  const context = {
    callRef: ref,
    from,
    to,
    direction: 'outbound',
    greeting: body.greeting,
    machine: body.machine,
    voicemailMessage: body.voicemailMessage ?? config.VOICEMAIL_MESSAGE,
    ...(body.metadata && { metadata: body.metadata }),
  };
  log.info(
    { to: maskPhone(to), from: maskPhone(from), machine: body.machine },
    `Placing outbound call to ${maskPhone(to)}`,
  );

  // The slot is held while Twilio rings the callee, then for the stream to start. Nothing
  // answers a webhook for this call yet: /outbound-call does once the callee picks up.
  const { admission } = await admitCall(
    ctx,
    {
      callSid: ref,
      from,
      to,
      room,
      metadata: JSON.stringify(context),
      streamTimeoutMs:
        config.OUTBOUND_RING_TIMEOUT_SECONDS * 1000 + config.STREAM_START_TIMEOUT_MS + 15_000,
      log,
    },
    () => '',
  );
  if (admission.outcome !== 'admitted') {
    // admitCall has freed whatever it took.
    const failed = admission.outcome === 'failed';
    metrics.outboundCalls.inc({ outcome: failed ? 'rejected_error' : 'rejected_busy' });
    return failed
      ? fail(
          502,
          'PB_ERR_LIVEKIT_UNREACHABLE',
          `LiveKit could not set the call up: ${describeError(admission.error)}`,
        )
      : {
          ...fail(503, 'PB_ERR_CAPACITY', 'at capacity; try again later'),
          headers: { 'retry-after': '5' },
        };
  }
  const call = admission.call;
  call.direction = 'outbound';
  call.onTeardown(async () => {
    // Ended here before its stream started (shutdown, a stream that never came): it may
    // still be ringing, and a callee must not pick up into nothing.
    if (
      call.streamSid === undefined &&
      call.callSid !== ref &&
      !TWILIO_KNOWS.has(call.endReason ?? '')
    ) {
      await ctx.callControl
        .hangup(call.callSid)
        .catch((err: unknown) =>
          call.log.warn({ err: describeError(err) }, 'Could not cancel the call at Twilio'),
        );
    }
    await ctx.records
      .update(call.callSid, { endReason: call.endReason, endedAt: new Date().toISOString() })
      .catch((err: unknown) =>
        call.log.warn({ err: describeError(err) }, 'Could not update the call record'),
      );
  });

  let placed: { sid: string; status: string };
  try {
    placed = await ctx.callControl.place({
      to,
      from,
      url: `${base}/outbound-call?ref=${ref}`,
      statusCallback: `${base}/call-status`,
      asyncAmdStatusCallback: `${base}/amd-status`,
      timeoutSeconds: config.OUTBOUND_RING_TIMEOUT_SECONDS,
    });
  } catch (err) {
    const f = twilioFailure(err);
    metrics.outboundCalls.inc({ outcome: 'twilio_error' });
    log.warn(
      { twilioStatus: f.status, twilioCode: f.code, err: f.message },
      'Twilio refused the call',
    );
    void ctx.registry.end(call, 'admission_failed');
    // Twilio's 4xx is about this request (a number it cannot dial); anything else is Twilio.
    const mine = f.status !== undefined && f.status >= 400 && f.status < 500;
    return fail(mine ? 422 : 502, 'PB_ERR_TWILIO_REST', `Twilio refused the call: ${f.message}`, {
      ...(f.status !== undefined && { twilioStatus: f.status }),
      ...(f.code !== undefined && { twilioCode: f.code }),
    });
  }

  const sid = placed.sid;
  if (call.ended) {
    // Shut down (or hung up) while Twilio was accepting it: do not leave it ringing.
    void ctx.callControl.hangup(sid).catch(() => undefined);
    return fail(503, 'PB_ERR_DRAINING', 'the call ended before it was placed');
  }
  ctx.registry.rename(call, sid, parentLog.child({ callSid: sid, callRef: ref }));
  await ctx.sharedSlots
    ?.rename(ref, sid)
    .catch((err: unknown) =>
      call.log.warn(
        { err: describeError(err) },
        'Could not move the shared call slot to the CallSid',
      ),
    );
  await ctx.records
    .create(
      { callSid: sid, room, from, to, machine: body.machine, createdAt: new Date().toISOString() },
      { status: placed.status, at: new Date().toISOString() },
    )
    .catch((err: unknown) =>
      call.log.warn({ err: describeError(err) }, 'Could not store the call record'),
    );
  metrics.outboundCalls.inc({ outcome: 'placed' });
  call.log.info({ room, status: placed.status }, `Twilio accepted the call: ${sid}`);
  return { status: 201, body: { callSid: sid, room, status: placed.status } };
}
