import { z } from 'zod';
import { accountSidSchema, callSidSchema } from './stream-messages.js';

// Phone numbers arrive as E.164, but also as SIP URIs, client identities or words
// such as "anonymous"; accept any printable value of sane length and never trust it.
const party = z
  .string()
  .max(256, { message: 'is too long' })
  .regex(/^[\x20-\x7E]*$/, { message: 'must be printable ASCII' });

export const CALL_STATUSES = [
  'queued',
  'initiated',
  'ringing',
  'in-progress',
  'completed',
  'busy',
  'failed',
  'no-answer',
  'canceled',
] as const;
export const TERMINAL_STATUSES: ReadonlySet<string> = new Set([
  'completed',
  'busy',
  'failed',
  'no-answer',
  'canceled',
]);

/** `POST /incoming-call`: the voice webhook. Extra fields are allowed (Twilio adds many) but must be strings. */
export const incomingCallParams = z
  .object({
    CallSid: callSidSchema,
    AccountSid: accountSidSchema,
    From: party.default(''),
    To: party.default(''),
    CallStatus: z.enum(CALL_STATUSES).optional(),
    Direction: z.string().max(64).optional(),
    CallerName: party.optional(),
  })
  .catchall(z.string().max(4096));

/** `POST /call-status`: the call's status callback. */
export const callStatusParams = z
  .object({
    CallSid: callSidSchema,
    AccountSid: accountSidSchema,
    CallStatus: z.enum(CALL_STATUSES),
    CallDuration: z
      .string()
      .regex(/^\d{1,9}$/)
      .optional(),
    SequenceNumber: z
      .string()
      .regex(/^\d{1,9}$/)
      .optional(),
  })
  .catchall(z.string().max(4096));

/** Twilio's answering-machine verdicts (`MachineDetection=Enable` gives machine_start). */
export const ANSWERED_BY = [
  'human',
  'machine_start',
  'machine_end_beep',
  'machine_end_silence',
  'machine_end_other',
  'fax',
  'unknown',
] as const;
export type AnsweredBy = (typeof ANSWERED_BY)[number];

/** `POST /amd-status`: the asynchronous answering-machine detection verdict. */
export const amdStatusParams = z
  .object({
    CallSid: callSidSchema,
    AccountSid: accountSidSchema,
    AnsweredBy: z.enum(ANSWERED_BY),
    MachineDetectionDuration: z
      .string()
      .regex(/^\d{1,9}$/)
      .optional(),
  })
  .catchall(z.string().max(4096));

export type IncomingCallParams = z.infer<typeof incomingCallParams>;
export type CallStatusParams = z.infer<typeof callStatusParams>;

/** One line naming what is wrong, for a 400 reply and the log. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => (i.path.length ? `${i.path.join('.')} ${i.message}` : i.message))
    .slice(0, 5)
    .join('; ');
}
