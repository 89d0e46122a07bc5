import { llm } from '@livekit/agents';
import type { Room } from '@livekit/rtc-node';
import { z } from 'zod';
import { describeError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { maskPhone } from '../../log.js';

/** The RPC method the bridge registers on the caller participant. */
export const TRANSFER_RPC_METHOD = 'phonebridge.transfer';

const transferReply = z.object({ ok: z.boolean(), reason: z.string().optional() });

export interface ToolDeps {
  room: Room;
  /** Identity of the caller participant, where the bridge answers the transfer RPC. */
  callerIdentity: () => string | undefined;
  allowlist: readonly string[];
  logger: Logger;
  /** Ends the call once the agent's current reply (the goodbye) has been spoken. */
  hangUpAfterReply: (reason: string) => void;
}

/** The function tools the model may call on a phone line. */
export function phoneTools(deps: ToolDeps) {
  return {
    end_call: llm.tool({
      description:
        'End the phone call. Use it when the caller says goodbye or asks to hang up, or the conversation is clearly over.',
      execute: async () => {
        deps.logger.info('model asked to end the call');
        deps.hangUpAfterReply('end_call tool');
        return 'The call will end after your next sentence. Say a brief goodbye now.';
      },
    }),
    transfer_call: llm.tool({
      description:
        'Transfer the caller to another phone number. Only numbers on the allowed list work; ask the caller to confirm first.',
      parameters: z.object({
        number: z.string().describe('E.164 phone number to transfer to, for example +15551234567'),
      }),
      execute: async ({ number }) => {
        const to = number.replace(/[\s().-]/g, '');
        const log = deps.logger.child({ to: maskPhone(to) });
        if (!deps.allowlist.includes(to)) {
          log.info('transfer refused: number not on TRANSFER_ALLOWLIST');
          return deps.allowlist.length === 0
            ? 'Transfers are not enabled on this line. Tell the caller you cannot transfer the call.'
            : 'That number is not one you may transfer to. Tell the caller you cannot transfer to it.';
        }
        const caller = deps.callerIdentity();
        const local = deps.room.localParticipant;
        if (!caller || !local) return 'The caller is no longer on the line.';
        try {
          const raw = await local.performRpc({
            destinationIdentity: caller,
            method: TRANSFER_RPC_METHOD,
            payload: JSON.stringify({ to }),
            responseTimeout: 10_000,
          });
          const reply = transferReply.parse(JSON.parse(raw));
          if (reply.ok) {
            log.info('call transferred by the bridge');
            return 'The transfer is under way. Say nothing more.';
          }
          log.warn({ reason: reply.reason }, 'bridge refused the transfer');
          return `The transfer could not be made (${reply.reason ?? 'unknown reason'}). Tell the caller you cannot transfer the call right now.`;
        } catch (err) {
          log.warn({ err: describeError(err) }, 'transfer RPC failed');
          return 'The transfer is not available right now. Tell the caller you cannot transfer the call.';
        }
      },
    }),
  };
}
