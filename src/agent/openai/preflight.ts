import type { Config } from '../../config/schema.js';
import type { Logger } from '../../log.js';
export async function checkOpenAIKey(_config: Config, _logger: Logger): Promise<void> {}
