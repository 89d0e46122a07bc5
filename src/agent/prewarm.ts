import { inference } from '@livekit/agents';
import type { Config } from '../config/schema.js';
import { type PromptName, loadPrompt } from './prompts.js';

const PROMPTS: PromptName[] = ['greeting', 'apology', 'still-there', 'goodbye'];

/**
 * Loads in an idle job process what a call in `config.AGENT_MODE` would otherwise load
 * after the dispatch: the mode's modules (and with them the OpenAI plugin), the prompts,
 * and the native VAD. A call then starts in a process that only has to join the room.
 */
export async function prewarmMode(config: Config): Promise<void> {
  switch (config.AGENT_MODE) {
    case 'loopback':
      await import('./loopback.js');
      break;
    case 'echo': {
      await Promise.all([import('./echo.js'), ...PROMPTS.map((p) => loadPrompt(p))]);
      // The first VAD stream loads @livekit/local-inference's native module (~50 ms).
      const vad = new inference.VAD();
      vad.stream().close();
      await vad.close();
      break;
    }
    case 'openai':
      await Promise.all([import('./openai/session.js'), loadPrompt('apology')]);
      break;
  }
}
