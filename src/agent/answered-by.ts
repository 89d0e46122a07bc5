import {
  ParticipantKind,
  RoomEvent,
  type Participant,
  type RemoteParticipant,
  type Room,
} from '@livekit/rtc-node';
import type { Logger } from '../log.js';
import { ANSWERED_BY_ATTRIBUTE } from '../twilio/stream-messages.js';

/** How the agent opens an outbound call, once it knows who (or what) answered. */
export type Opening = 'talk' | 'voicemail' | 'hangup';

/**
 * Twilio's AnsweredBy → what the agent does. A person (or no verdict either way) is talked
 * to; a machine whose greeting has ended gets the voicemail message, or is hung up on; a
 * machine still greeting (`machine_start`) is waited out in silence; a fax is hung up on.
 */
export function openingFor(answeredBy: string, machine: 'hangup' | 'voicemail'): Opening | 'wait' {
  if (answeredBy === 'machine_start') return 'wait';
  if (answeredBy.startsWith('machine_end_'))
    return machine === 'voicemail' ? 'voicemail' : 'hangup';
  if (answeredBy === 'fax') return 'hangup';
  return 'talk';
}

/**
 * How long to wait for a verdict before talking anyway: Twilio gives up after 30 s
 * (MachineDetectionTimeout) and reports `unknown`; a lost callback must not leave a person
 * in silence for ever. After `machine_start` the same wait ends in a hang-up: a greeting
 * that never ends is not a person.
 */
export const VERDICT_TIMEOUT_MS = 35_000;

function verdictOf(p: Participant): string | undefined {
  return p.kind === ParticipantKind.AGENT ? undefined : p.attributes?.[ANSWERED_BY_ATTRIBUTE];
}

/**
 * Waits until the phone participant carries a deciding AnsweredBy verdict (set by the
 * bridge from Twilio's AMD callback) and resolves with the opening. Rejects when `signal`
 * aborts.
 */
export function awaitOpening(
  room: Room,
  machine: 'hangup' | 'voicemail',
  signal: AbortSignal,
  logger: Logger,
  timeoutMs = VERDICT_TIMEOUT_MS,
): Promise<Opening> {
  return new Promise((resolve, reject) => {
    let waitingOnMachine = false;
    const cleanup = () => {
      clearTimeout(timer);
      room.off(RoomEvent.ParticipantAttributesChanged, onChanged);
      room.off(RoomEvent.ParticipantConnected, onParticipant);
      signal.removeEventListener('abort', onAbort);
    };
    const consider = (p: Participant) => {
      const v = verdictOf(p);
      if (v === undefined) return;
      const opening = openingFor(v, machine);
      logger.info({ answeredBy: v, opening }, `callee answered by ${v}`);
      if (opening === 'wait') {
        waitingOnMachine = true;
        return;
      }
      cleanup();
      resolve(opening);
    };
    const onChanged = (changed: Record<string, string>, p: Participant) => {
      if (ANSWERED_BY_ATTRIBUTE in changed) consider(p);
    };
    const onParticipant = (p: RemoteParticipant) => consider(p);
    const onAbort = () => {
      cleanup();
      reject(signal.reason instanceof Error ? signal.reason : new Error('call ended'));
    };
    const timer = setTimeout(() => {
      cleanup();
      logger.warn(
        { timeoutMs, waitingOnMachine },
        waitingOnMachine
          ? 'the machine never finished its greeting; hanging up'
          : 'no answering-machine verdict arrived; talking anyway',
      );
      resolve(waitingOnMachine ? 'hangup' : 'talk');
    }, timeoutMs);
    if (signal.aborted) return onAbort();
    room.on(RoomEvent.ParticipantAttributesChanged, onChanged);
    room.on(RoomEvent.ParticipantConnected, onParticipant);
    signal.addEventListener('abort', onAbort, { once: true });
    for (const p of room.remoteParticipants.values()) consider(p);
  });
}
