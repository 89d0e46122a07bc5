/**
 * What our agent (and its worker) tell the bridge beyond LiveKit's own events: data packets
 * (reliable, JSON, one topic each) and one participant attribute. The bridge owns the phone
 * leg; these tell it what only the agent knows. Defined once, for both sides: the agent
 * publishes them (src/agent/bridge-signals.ts; `agent-gone` comes from its worker,
 * src/agent/job-reaper.ts), the bridge reads them (src/bridge/agent-side.ts).
 */

/**
 * The caller cut the agent off: `{"at": <epoch ms>}`, sent as soon as the agent's own
 * audio is flushed and before its `lk.agent.state` leaves `speaking`. The bridge clears
 * Twilio's queue on it and discards agent audio until the agent's state is `speaking`
 * again. After the packet the agent publishes nothing more of the interrupted utterance.
 */
export const INTERRUPTED_TOPIC = 'phonebridge.interrupted';

/**
 * The agent reads the caller's track now: `{"at": <epoch ms>, "track": "<track sid>"}`,
 * sent once its reader on that track exists (and again for a new track or subscription).
 * livekit-server tells the publisher "subscribed" when the down track is bound, which can
 * come a few hundred milliseconds before a busy agent has a reader on it: audio sent in
 * between is decoded for nobody. Holding the caller's audio until this packet loses none.
 */
export const LISTENING_TOPIC = 'phonebridge.listening';

/**
 * The agent's job process died mid-call (killed, out of memory, crashed) and its worker
 * removed its participant: `{"at": <epoch ms>, "participant": "<identity>"}`, sent by the
 * worker through the server API (so from no participant). livekit-server reports the
 * departure of a participant without tracks in its next batch of updates, up to 3 s
 * later; this packet reaches the bridge at once. The bridge apologises and ends the call.
 */
export const AGENT_GONE_TOPIC = 'phonebridge.agent-gone';

/**
 * The agent's participant attribute naming the packets above it sends, comma-separated
 * (`listening,interrupted`). Set at connect, before the agent subscribes to the caller: a
 * bridge that sees `listening` here holds the caller's audio until that packet instead of
 * guessing a settle time after the subscription.
 */
export const SIGNALS_ATTRIBUTE = 'phonebridge.signals';
export const SIGNALS = 'listening,interrupted';

const encoder = new TextEncoder();

/** The `phonebridge.agent-gone` payload. */
export function encodeAgentGone(participant: string, at = Date.now()): Uint8Array {
  return encoder.encode(JSON.stringify({ at, participant }));
}

/** Whether an agent with these attributes sends LISTENING_TOPIC. */
export function announcesListening(attributes: Record<string, string> | undefined): boolean {
  return (attributes?.[SIGNALS_ATTRIBUTE] ?? '').split(',').includes('listening');
}

/** The participant an AGENT_GONE_TOPIC payload names, if it is well-formed. */
export function goneParticipant(payload: string): string | undefined {
  try {
    const gone = (JSON.parse(payload) as { participant?: unknown }).participant;
    return typeof gone === 'string' ? gone : undefined;
  } catch {
    return undefined;
  }
}
