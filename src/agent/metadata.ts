import { z } from 'zod';

/** What the webhook puts in the dispatch (and room) metadata for each call. */
export const callMetadataSchema = z.object({
  callSid: z.string().min(1).max(64).optional(),
  from: z.string().max(64).optional(),
  to: z.string().max(64).optional(),
});

export type CallMetadata = z.infer<typeof callMetadataSchema>;

/**
 * Parses dispatch metadata, falling back to the room's, then to the room name
 * (`call-<CallSid>`). Never throws: a call with odd metadata is still answered.
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
  return { ...found, callSid: found.callSid ?? fromRoom ?? roomName ?? 'unknown' };
}
