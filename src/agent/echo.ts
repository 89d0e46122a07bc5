import type { CallContext } from './call-context.js';
export async function runEcho(_call: CallContext): Promise<void> {}
