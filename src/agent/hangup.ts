import { describeError } from '../errors.js';
import type { CallContext } from './call-context.js';
import { publishAgentAudio } from './output.js';
import { Player } from './player.js';
import { type PromptName, loadPrompt } from './prompts.js';
import { AgentStatePublisher } from './state.js';

/**
 * Plays one prerecorded prompt on a track of its own, then deletes the room (which is how
 * the agent hangs up: the bridge ends the phone leg). Used when the voice model is gone and
 * nothing else can speak, e.g. the apology after an OpenAI failure, and for the offline
 * voicemail message. `tailMs` of silence before hanging up lets the end of the prompt reach
 * the far end. Never throws.
 */
export async function sayPromptAndHangUp(
  call: CallContext,
  name: PromptName,
  tailMs = 0,
): Promise<void> {
  const { ctx, logger } = call;
  const room = ctx.room;
  try {
    if (room.isConnected) {
      const state = new AgentStatePublisher(room, () => undefined);
      const prompt = await loadPrompt(name);
      const output = await publishAgentAudio(room, prompt.sampleRateHz);
      try {
        await new Player(output, state).play(prompt.samples);
      } finally {
        await output.close();
      }
    }
  } catch (err) {
    logger.warn({ err: describeError(err), prompt: name }, 'could not play prompt');
  }
  if (tailMs > 0) await new Promise((r) => setTimeout(r, tailMs));
  await ctx.deleteRoom();
}
