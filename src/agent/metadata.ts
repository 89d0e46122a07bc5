import { z } from 'zod';

/**
 * What the server puts in the dispatch (and room) metadata for each call. Outbound calls
 * (the API's) add how to open the call and what the API caller passed along; the CallSid
 * is not known yet when they are dispatched, so they carry `callRef` instead.
 */
export const callMetadataSchema = z.object({
  callSid: z.string().min(1).max(64).optional(),
  callRef: z.string().min(1).max(64).optional(),
  from: z.string().max(64).optional(),
  to: z.string().max(64).optional(),
  /** Absent for calls Twilio brought in. */
  direction: z.enum(['inbound', 'outbound']).optional(),
  /** The API caller's context for this call (a JSON object of at most 4 KiB). */
  metadata: z.record(z.string(), z.unknown()).optional(),
  greeting: z.enum(['caller-first', 'agent-first']).optional(),
  /** What to do when a machine answers: leave `voicemailMessage`, or hang up. */
  machine: z.enum(['hangup', 'voicemail']).optional(),
  voicemailMessage: z.string().max(1000).optional(),
});

export type CallMetadata = z.infer<typeof callMetadataSchema>;

/**
 * Parses dispatch metadata, falling back to the room's, then to the room name
 * (`call-<CallSid>`, or `call-<callRef>` for an outbound call). Never throws: a call with
 * odd metadata is still answered.
 */
export function parseCallMetadata(
  sources: (string | undefined)[],
  roomName: string | undefined,
): CallMetadata & { callSid: string } {
  let found: CallMetadata = {};
  for (const raw of sources) {
    if (!raw) continue;
    try {
      const parsed = callMetadataSchema.safeParse(JSON.parse(raw));
      if (parsed.success) {
        found = parsed.data;
        break;
      }
    } catch {
      // Not JSON: try the next source.
    }
  }
  const fromRoom = roomName?.startsWith('call-') ? roomName.slice('call-'.length) : undefined;
  return {
    ...found,
    callSid: found.callSid ?? found.callRef ?? fromRoom ?? roomName ?? 'unknown',
  };
}
