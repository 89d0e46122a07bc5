/**
 * What our agent (and its worker) tell the bridge beyond LiveKit's own events: data topics
 * and one participant attribute. The agent's side is src/agent/bridge-signals.ts.
 */

/** The agent was cut off by the caller: clear Twilio's queue now. */
export const INTERRUPTED_TOPIC = 'phonebridge.interrupted';
/** The agent reads the caller's track now: release the held audio. */
export const LISTENING_TOPIC = 'phonebridge.listening';
/** From the server API: the agent's job process died; `{"participant": identity}`. */
export const AGENT_GONE_TOPIC = 'phonebridge.agent-gone';
/** The agent attribute listing the signals it sends (e.g. `listening,interrupted`). */
export const SIGNALS_ATTRIBUTE = 'phonebridge.signals';

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
