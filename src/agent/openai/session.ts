import type { CallContext } from '../call-context.js';
export async function runOpenAI(_call: CallContext): Promise<void> {}
