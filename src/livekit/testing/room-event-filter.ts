import type { Room } from '@livekit/rtc-node';

/** The parts of rtc-node's Room (0.13) this module reaches into; all private upstream. */
interface RoomInternals {
  onFfiEvent: (ev: FfiEventLike) => Promise<void>;
  ffiHandle?: { handle: bigint };
  localParticipant?: { ffi_handle: { handle: bigint } };
  preConnectEvents: unknown[];
}

interface FfiEventLike {
  message:
    | { case: 'roomEvent'; value: { roomHandle: bigint } }
    | { case: 'rpcMethodInvocation'; value: { localParticipantHandle: bigint } }
    | { case: string | undefined; value?: unknown };
}

/**
 * rtc-node 0.13 delivers every native event of the process to every Room, and each Room
 * takes an async mutex and allocates promises before it looks at whether the event is
 * its own. With N rooms that is N async hops per event and N × events/s overall: at 20
 * calls plus 20 test agents in one process the JavaScript thread sat at 100 % (CPU
 * profile: Room.onFfiEvent 22 % self, GC 17 %, the mutex 4 %) and audio fell seconds
 * behind. This puts a synchronous filter in front of the Room's listener that drops,
 * without the lock, exactly the events the Room's own processFfiEvent would ignore:
 * room events of other rooms, RPC invocations for other participants, and every other
 * event kind. While the Room is connecting (no handle yet) or still has pre-connect
 * events queued, everything goes through unchanged. Must run before `connect()`, which
 * registers whatever `onFfiEvent` is then. Remove when rtc-node dispatches by handle.
 */
export function filterRoomEvents<T extends Room>(room: T): T {
  const internals = room as unknown as RoomInternals;
  const original = internals.onFfiEvent;
  if (typeof original !== 'function') return room; // a future rtc-node changed shape: do nothing
  // FfiHandle.handle is a native getter that allocates a BigInt on every read: read each
  // handle once, when it first exists, or the filter costs more than it saves.
  let roomHandle: bigint | undefined;
  let participantHandle: bigint | undefined;
  const done = Promise.resolve();
  internals.onFfiEvent = (ev: FfiEventLike): Promise<void> => {
    if (roomHandle === undefined) {
      roomHandle = internals.ffiHandle?.handle;
      participantHandle = internals.localParticipant?.ffi_handle.handle;
      if (roomHandle === undefined) return original(ev);
    }
    if (internals.preConnectEvents.length > 0) return original(ev);
    const m = ev.message;
    if (m.case === 'roomEvent') {
      if ((m.value as { roomHandle: bigint }).roomHandle !== roomHandle) return done;
    } else if (m.case === 'rpcMethodInvocation') {
      if (
        (m.value as { localParticipantHandle: bigint }).localParticipantHandle !== participantHandle
      )
        return done;
    } else {
      return done;
    }
    return original(ev);
  };
  return room;
}
